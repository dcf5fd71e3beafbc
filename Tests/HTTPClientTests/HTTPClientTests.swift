import Foundation
import HTTPClient
import ModelplaneTestSupport
import Testing

struct Echo: Decodable {
    var method: String
    var path: String
    var headers: [String: String]
    var body: String
    var clientPort: Int
    var clientCertificate: String?
}

func echo(_ response: HTTPResponse) throws -> Echo {
    try JSONDecoder().decode(Echo.self, from: response.body)
}

@Suite(.timeLimit(.minutes(3))) struct HTTPClientWireTests {
    @Test func sendsMethodHeadersAndBody() async throws {
        let peer = try await PeerProcess.httpPeer()
        let client = HTTPClient()
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let response = try await client.execute(
                HTTPRequest(
                    method: method, url: peer.baseURL + "/echo",
                    headers: ["Content-Type": "application/merge-patch+json", "X-Test": "yes"],
                    body: Data(#"{"spec":{"a":1}}"#.utf8)
                ))
            #expect(response.status == 200)
            let seen = try echo(response)
            #expect(seen.method == method)
            #expect(seen.body == #"{"spec":{"a":1}}"#)
            #expect(seen.headers["content-type"] == "application/merge-patch+json")
            #expect(seen.headers["x-test"] == "yes")
            #expect(seen.headers["expect"] == nil)
        }
        let get = try echo(await client.execute(HTTPRequest(url: peer.baseURL + "/echo")))
        #expect(get.method == "GET")
        #expect(get.headers["user-agent"] == "modelplane")
    }

    @Test func reusesConnections() async throws {
        let peer = try await PeerProcess.httpPeer()
        let client = HTTPClient()
        let first = try await client.execute(HTTPRequest(url: peer.baseURL + "/echo"))
        let second = try await client.execute(HTTPRequest(url: peer.baseURL + "/echo"))
        #expect(try echo(first).clientPort == echo(second).clientPort)
        #expect(!first.reusedConnection)
        #expect(second.reusedConnection)
    }

    @Test func httpErrorsAreResponsesNotThrows() async throws {
        let peer = try await PeerProcess.httpPeer()
        let response = try await HTTPClient().execute(HTTPRequest(url: peer.baseURL + "/status/503"))
        #expect(response.status == 503)
        #expect(response.headers["content-type"] == "application/json")
    }

    @Test func streamsBodiesAsTheyArrive() async throws {
        let peer = try await PeerProcess.httpPeer()
        let response = try await HTTPClient().stream(HTTPRequest(url: peer.baseURL + "/forever"))
        #expect(response.status == 200)
        var received = Data()
        for try await chunk in response.body {
            received.append(chunk)
            if received.split(separator: UInt8(ascii: "\n")).count >= 3 { break }
        }
        // The response never ends, so these lines can only have come while it was streaming.
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("{\"n\": 0}\n{\"n\": 1}\n"))
    }

    @Test func streamsWholeChunkedBodies() async throws {
        let peer = try await PeerProcess.httpPeer()
        let response = try await HTTPClient().stream(HTTPRequest(url: peer.baseURL + "/stream?lines=300"))
        var received = Data()
        for try await chunk in response.body { received.append(chunk) }
        let lines = received.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == 300)
        #expect(String(decoding: lines.last!, as: UTF8.self).hasPrefix("{\"n\": 299"))
    }

    @Test func droppingAStreamClosesTheConnection() async throws {
        let peer = try await PeerProcess.httpPeer()
        let client = HTTPClient()
        do {
            let response = try await client.stream(HTTPRequest(url: peer.baseURL + "/forever"))
            for try await _ in response.body { break }
        }
        let idle = try await client.execute(HTTPRequest(url: peer.baseURL + "/wait-idle?timeout=10"))
        #expect(idle.status == 200, "the server still has the stream open")
    }

    @Test func cancellingTheTaskAbortsTheStream() async throws {
        let peer = try await PeerProcess.httpPeer()
        let client = HTTPClient()
        let firstChunk = AsyncStream<Void>.makeStream()
        let task = Task {
            let response = try await client.stream(HTTPRequest(url: peer.baseURL + "/forever"))
            for try await _ in response.body { firstChunk.continuation.yield() }
        }
        for await _ in firstChunk.stream { break }
        task.cancel()
        _ = await task.result
        let idle = try await client.execute(HTTPRequest(url: peer.baseURL + "/wait-idle?timeout=10"))
        #expect(idle.status == 200)
    }

    @Test func aCancelledTaskSendsNothing() async throws {
        let peer = try await PeerProcess.httpPeer()
        let client = HTTPClient()
        // The task waits on a stream that ends only when the task is cancelled, so the request is
        // always made by an already-cancelled task.
        let gate = AsyncStream<Void>.makeStream()
        let task = Task {
            for await _ in gate.stream {}
            return try await client.execute(HTTPRequest(method: "POST", url: peer.baseURL + "/echo", body: Data("x".utf8)))
        }
        task.cancel()
        let error = await #expect(throws: HTTPClientError.self) { _ = try await task.value }
        #expect(error?.code == .cancelled)
        let count = try await client.execute(HTTPRequest(url: peer.baseURL + "/count"))
        #expect(String(decoding: count.body, as: UTF8.self) == #"{"requests": 0}"#)
    }

    @Test func streamsDoNotHoldConcurrencyThreads() async throws {
        // Far more open streams than the cooperative pool has threads: if a stream held a thread
        // while waiting for data, the final request could never run and the test would time out.
        let peer = try await PeerProcess.httpPeer()
        let client = HTTPClient()
        var streams: [HTTPStreamingResponse] = []
        for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount * 4) {
            streams.append(try await client.stream(HTTPRequest(url: peer.baseURL + "/forever")))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for stream in streams {
                group.addTask { for try await _ in stream.body { break } }
            }
            let response = try await client.execute(HTTPRequest(url: peer.baseURL + "/echo"))
            #expect(response.status == 200)
            try await group.waitForAll()
        }
    }

    @Test func timesOut() async throws {
        let peer = try await PeerProcess.httpPeer()
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await HTTPClient().execute(HTTPRequest(url: peer.baseURL + "/hold?ms=5000", timeout: .milliseconds(200)))
        }
        #expect(error?.code == .timedOut)
        #expect(error?.isTransient == true)
    }

    @Test func connectTimeoutAppliesWhileConnecting() async throws {
        let peer = try await PeerProcess.httpPeer(["--unaccepting"])
        var configuration = HTTPClientConfiguration()
        configuration.connectTimeout = .milliseconds(300)
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await HTTPClient(configuration: configuration).execute(HTTPRequest(url: peer.baseURL + "/echo", timeout: .seconds(30)))
        }
        #expect(error?.code == .timedOut)
        // curl words it by where the time ran out: "Failed to connect … Timeout was reached", or,
        // on a loaded machine, "Connection timeout" (both say the connection was never made).
        let message = error?.message ?? ""
        #expect(message.hasPrefix("Failed to connect") || message.hasPrefix("Connection timeout"), "\(String(describing: error))")
    }

    @Test func reportsRefusedConnections() async throws {
        let peer = try await PeerProcess.httpPeer()
        let port = peer.port
        peer.stop()
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await HTTPClient().execute(HTTPRequest(url: "http://127.0.0.1:\(port)/echo"))
        }
        #expect(error?.code == .couldNotConnect)
        // The same failure reads the same each time (a condition quoting it is not rewritten on
        // every retry): curl's "after 0 ms" is left out.
        #expect(error?.message == "Failed to connect to 127.0.0.1 port \(port): Couldn't connect to server", "\(String(describing: error))")
    }

    @Test func reportsConnectionsLostMidResponse() async throws {
        let peer = try await PeerProcess.httpPeer()
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await HTTPClient().execute(HTTPRequest(url: peer.baseURL + "/drop"))
        }
        #expect(error?.code == .connectionLost)
    }

    @Test func limitsResponseSize() async throws {
        let peer = try await PeerProcess.httpPeer()
        var configuration = HTTPClientConfiguration()
        configuration.maxResponseBytes = 1000
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await HTTPClient(configuration: configuration).execute(HTTPRequest(url: peer.baseURL + "/bytes?n=100000"))
        }
        #expect(error?.code == .responseTooLarge)
    }

    /// A streamed body that gets too far ahead of a reader that has stopped reading ends with a
    /// clear error instead of growing in memory; what was buffered is still read first.
    @Test func limitsHowFarAStreamGetsAheadOfItsReader() async throws {
        let peer = try await PeerProcess.httpPeer()
        var configuration = HTTPClientConfiguration()
        configuration.maxStreamBufferBytes = 64 * 1024
        let response = try await HTTPClient(configuration: configuration).stream(HTTPRequest(url: peer.baseURL + "/bytes?n=10000000"))
        var read = 0
        let error = await #expect(throws: HTTPClientError.self) {
            for try await chunk in response.body {
                // A reader that stops: 64 KiB arrive long before it reads on.
                if read == 0 { try await Task.sleep(for: .seconds(2)) }
                read += chunk.count
            }
        }
        #expect(error?.code == .responseTooLarge)
        #expect(error?.message.contains("more than 65536 bytes ahead of its reader") == true, "\(String(describing: error))")
        #expect(read <= 65_536 + 16_384, "at most the bound (and the chunk first read) arrived: \(read)")

        // The bound is in bytes: many small chunks under it (a watch's events) are all read,
        // however long the reader pauses.
        let small = try await HTTPClient(configuration: configuration).stream(HTTPRequest(url: peer.baseURL + "/stream?lines=300"))
        var lines = 0
        var first = true
        for try await chunk in small.body {
            if first { try await Task.sleep(for: .seconds(1)) }
            first = false
            lines += chunk.filter { $0 == UInt8(ascii: "\n") }.count
        }
        #expect(lines == 300)
    }

    @Test func rejectsBadURLs() async throws {
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await HTTPClient().execute(HTTPRequest(url: "ftp://127.0.0.1/x"))
        }
        #expect(error?.code == .invalidRequest)
    }

    @Test func failsRequestsAfterShutdown() async throws {
        let client = HTTPClient()
        client.shutdown()
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:1/"))
        }
        #expect(error?.code == .shutDown)
    }
}

@Suite(.timeLimit(.minutes(3))) struct HTTPClientTLSTests {
    @Test func verifiesTheServerAgainstACAFileOrInlineData() async throws {
        let pki = try await TestCertificates.make()
        let peer = try await PeerProcess.httpPeer(["--cert", pki.serverCertificate, "--key", pki.serverKey])
        let url = "https://127.0.0.1:\(peer.port)/echo"
        for ca in [TLSConfiguration.PEM.file(pki.caCertificate), .data(try Data(contentsOf: URL(fileURLWithPath: pki.caCertificate)))] {
            let client = HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(certificateAuthority: ca)))
            #expect(try await client.execute(HTTPRequest(url: url)).status == 200)
        }
    }

    @Test func refusesAServerItCannotVerify() async throws {
        let pki = try await TestCertificates.make()
        let peer = try await PeerProcess.httpPeer(["--cert", pki.serverCertificate, "--key", pki.serverKey])
        let client = HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(certificateAuthority: .file(pki.otherCACertificate))))
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.execute(HTTPRequest(url: "https://127.0.0.1:\(peer.port)/echo"))
        }
        #expect(error?.code == .tls)
        let insecure = HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(insecureSkipVerify: true)))
        #expect(try await insecure.execute(HTTPRequest(url: "https://127.0.0.1:\(peer.port)/echo")).status == 200)
    }

    @Test func presentsClientCertificatesForMutualTLS() async throws {
        let pki = try await TestCertificates.make()
        let peer = try await PeerProcess.httpPeer(["--cert", pki.serverCertificate, "--key", pki.serverKey, "--client-ca", pki.caCertificate])
        let url = "https://127.0.0.1:\(peer.port)/echo"

        let anonymous = HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(certificateAuthority: .file(pki.caCertificate))))
        await #expect(throws: HTTPClientError.self) { _ = try await anonymous.execute(HTTPRequest(url: url)) }

        let fromFiles = TLSConfiguration(
            certificateAuthority: .file(pki.caCertificate), clientCertificate: .file(pki.clientCertificate), clientKey: .file(pki.clientKey))
        let inline = TLSConfiguration(
            certificateAuthority: .file(pki.caCertificate),
            clientCertificate: .data(try Data(contentsOf: URL(fileURLWithPath: pki.clientCertificate))),
            clientKey: .data(try Data(contentsOf: URL(fileURLWithPath: pki.clientKey)))
        )
        for tls in [fromFiles, inline] {
            let response = try await HTTPClient(configuration: HTTPClientConfiguration(tls: tls)).execute(HTTPRequest(url: url))
            #expect(try echo(response).clientCertificate == "modelplane-test-client")
        }
    }

    @Test func neverPrintsKeyMaterial() throws {
        let secret = Data("-----BEGIN PRIVATE KEY-----\nsecret\n".utf8)
        let tls = TLSConfiguration(clientKey: .data(secret))
        #expect(!"\(tls)".contains("secret"))
        #expect("\(TLSConfiguration.PEM.data(secret))" == "inline PEM (\(secret.count) bytes)")
    }
}
