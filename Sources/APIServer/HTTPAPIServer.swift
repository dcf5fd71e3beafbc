import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Serves a `KubernetesAPI` over HTTP/1.1 (with TLS unless told otherwise) on SwiftNIO.
///
/// Requests are answered on the connection's event loop: `KubernetesAPI.handle` is synchronous
/// and a create, update or get takes a fraction of a millisecond, so handing each request to a
/// task and the answer back to the loop (what an async server does) cost more than the work
/// itself. Listing a collection can take tens of milliseconds with 10,000 objects, so lists run
/// on a task and do not hold up the other connections sharing the loop; watches stream from a
/// task with back-pressure (each chunk waits until the socket took the last one).
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
    /// Cancelling closes the listening socket and every open connection (watches end).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let api = self.api
        var sslContext: NIOSSLContext?
        if let tls {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem)))
            sslContext = try NIOSSLContext(configuration: configuration)
        }
        let connections = OpenConnections()
        let context = sslContext
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                connections.opened(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let context { try pipeline.addHandler(NIOSSLServerHandler(context: context)) }
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(APIChannelHandler(api: api))
                }
            }
        let server = try await bootstrap.bind(host: host, port: port).get()
        await onListening(server.localAddress?.port ?? 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await api.runBookmarks() }
            group.addTask {
                try await withTaskCancellationHandler {
                    try await server.closeFuture.get()
                } onCancel: {
                    server.close(promise: nil)
                    connections.closeAll()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// `a=1&b=x%20y` → ["a": "1", "b": "x y"] (form encoding: '+' is a space).
    static func query(_ text: Substring) -> [String: String] {
        var query: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in
                s.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") })
                    ? String(s.map { $0 == "+" ? " " : $0 }).removingPercentEncoding ?? String(s) : String(s)
            }
            query[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return query
    }

    /// Splits a request target (`/path?query`) as `KubernetesAPI` wants it.
    static func request(method: String, target: Substring, headers: [String: String], body: Data) -> APIRequest {
        // By bytes: a request target is ASCII, and walking it by Characters is slow.
        let end = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        let path = target[..<end]
        let rest = end == target.endIndex ? target[end...] : target[target.utf8.index(after: end)...]
        return APIRequest(method: method, path: path.isEmpty ? "/" : String(path), query: query(rest), headers: headers, body: body)
    }
}

/// The server's open connections, so that stopping the server also ends keep-alive connections
/// and watches instead of leaving them to their clients.
private final class OpenConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func opened(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = channels.withLock { $0.removeValue(forKey: id) } }
    }

    func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// One connection's requests, one at a time (the pipeline handler NIO puts before it holds back
/// pipelined requests until the previous response has ended).
private final class APIChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: KubernetesAPI
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false
    /// Lists and watches run here; cancelled when the connection closes.
    private var running: Task<Void, Never>?

    init(api: KubernetesAPI) { self.api = api }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            tooLarge = head.headers.first(name: "content-length").flatMap(Int.init).map { $0 > KubernetesAPI.maxRequestBytes } ?? false
        case .body(var chunk):
            guard !tooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > KubernetesAPI.maxRequestBytes {
                tooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive && !tooLarge
            if tooLarge {
                // The rest of an oversized body was read and dropped; the connection closes after
                // the answer so that a client still sending does not have it taken as a request.
                write(KubernetesAPI.tooLarge, version: head.version, keepAlive: false, context: context)
                return
            }
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let request = HTTPAPIServer.request(
                method: head.method.rawValue, target: Substring(head.uri), headers: headers, body: body.map { Data(buffer: $0) } ?? Data())
            body = nil
            if request.method == "GET", Self.isCollection(request.path) {
                // A list may take tens of milliseconds; a watch returns at once but then streams.
                let api = self.api
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                running = Task {
                    let response = api.handle(request)
                    bound.eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.write(response, version: head.version, keepAlive: keepAlive, context: context)
                    }
                }
            } else {
                // A write commits here unless another thread is committing; then the answer goes
                // out when that commit (which takes this write along) is done, and the event
                // loop serves other connections meanwhile.
                let response = api.respond(request)
                guard let commit = response.commit else {
                    write(response, version: head.version, keepAlive: keepAlive, context: context)
                    return
                }
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                if let settled = commit.commitHereOrNotify({ result in
                    bound.eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.write(response.settled(result), version: head.version, keepAlive: keepAlive, context: context)
                    }
                }) {
                    write(response.settled(settled), version: head.version, keepAlive: keepAlive, context: context)
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        running?.cancel()
        running = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS handshake failures, resets: nothing to answer; the connection is done.
        context.close(promise: nil)
    }

    /// `/apis/G/V/namespaces/NS/PLURAL`, `/apis/G/V/PLURAL`, `/api/v1/namespaces` and the like:
    /// a path whose last segment names a collection rather than one object. Only decides which
    /// requests leave the event loop; `KubernetesAPI` does the routing.
    private static func isCollection(_ path: String) -> Bool {
        let segments = path.utf8.split(separator: UInt8(ascii: "/"))
        // core: api/v1/PLURAL (3) or api/v1/namespaces/NS/PLURAL (5); groups add one segment.
        let base = path.utf8.starts(with: "/api/".utf8) ? 3 : 4
        let namespaced = segments.count > base - 1 && segments[base - 1].elementsEqual("namespaces".utf8)
        return segments.count == base || (namespaced && segments.count == base + 2)
    }

    private func write(_ response: APIResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        if let allow = response.allow { headers.add(name: "allow", value: allow) }
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if version.major == 1, version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        let status = HTTPResponseStatus(statusCode: response.status)
        switch response.bytes {
        case .data(let data):
            headers.add(name: "content-length", value: String(data.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: data)))), promise: nil)
            finish(keepAlive: keepAlive, context: context)
        case .stream(let chunks):
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            running = Task {
                for await chunk in chunks {
                    // Waiting for each write keeps a slow reader's backlog in the stream, not in
                    // NIO's unbounded outbound buffer.
                    let written = bound.eventLoop.flatSubmit {
                        let (handler, context) = bound.value
                        return context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: chunk)))))
                    }
                    guard (try? await written.get()) != nil else { return }
                }
                bound.eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.finish(keepAlive: keepAlive, context: context)
                }
            }
        case .events: preconditionFailure("APIResponse.bytes turns events into a stream")
        }
    }

    private func finish(keepAlive: Bool, context: ChannelHandlerContext) {
        let ended = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            ended.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
