import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// Serves a `KubernetesAPI` over HTTP with Hummingbird.
public struct HTTPAPIServer: Sendable {
    public let api: KubernetesAPI
    public let host: String
    public let port: Int
    /// Serve HTTPS with this certificate (chain) and key; nil serves plain HTTP (tests only:
    /// kubectl never sends a bearer token over plain HTTP).
    public let tls: (certificate: String, key: String)?

    public init(api: KubernetesAPI, host: String = "127.0.0.1", port: Int, tls: (certificate: String, key: String)?) {
        self.api = api
        self.host = host
        self.port = port
        self.tls = tls
    }

    /// Runs until the task is cancelled; `onListening` receives the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let api = self.api
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: KubernetesAPI.maxRequestBytes)
            } catch {
                return Self.response(
                    KubernetesAPI.status(
                        .init(code: 413, reason: "RequestEntityTooLarge", message: "the request body is larger than \(KubernetesAPI.maxRequestBytes) bytes")))
            }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let apiRequest = APIRequest(
                method: request.method.rawValue, path: request.uri.path, query: Self.query(request.uri.query ?? ""), headers: headers,
                body: Data(buffer: body))
            return Self.response(await api.handle(apiRequest))
        }
        var logger = Logger(label: "modelplane.apiserver")
        logger.logLevel = .warning
        var server = HTTPServerBuilder.http1()
        if let tls {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem)))
            server = try .tls(.http1(), tlsConfiguration: configuration)
        }
        let app = Application(
            responder: responder,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "modelplane"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await api.runBookmarks() }
            group.addTask { try await app.run() }
            try await group.next()
            group.cancelAll()
        }
    }

    static func response(_ response: APIResponse) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = response.contentType
        switch response.body {
        case .data(let data):
            return Response(status: .init(code: response.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        case .stream(let chunks):
            return Response(
                status: .init(code: response.status), headers: headers,
                body: ResponseBody { writer in
                    for await chunk in chunks { try await writer.write(ByteBuffer(bytes: chunk)) }
                    try await writer.finish(nil)
                })
        }
    }

    /// `a=1&b=x%20y` → ["a": "1", "b": "x y"] (form encoding: '+' is a space).
    static func query(_ text: String) -> [String: String] {
        var query: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in String(s.map { $0 == "+" ? " " : $0 }).removingPercentEncoding ?? String(s) }
            query[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return query
    }
}
