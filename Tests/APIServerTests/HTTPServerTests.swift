import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// How the embedded server treats a connection, seen from a raw socket: what kubectl, client-go
/// and proxies rely on besides the API itself.
@Suite(.timeLimit(.minutes(1))) struct HTTPServerTests {
    /// A blocking TCP connection to the embedded server (plain HTTP, so the bytes are readable).
    final class Connection: @unchecked Sendable {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        }

        deinit { close(fd) }

        func send(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        }

        /// Reads until `done` holds for what arrived, or the peer closes (then `closed` is true).
        /// The blocking reads run on a Dispatch thread, not one of Swift concurrency's few
        /// cooperative threads, which the server's own tasks (lists, watches) need.
        func read(until done: @escaping @Sendable (String) -> Bool) async -> (text: String, closed: Bool) {
            let fd = self.fd
            return await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: Self.read(fd, until: done)) }
            }
        }

        static func read(_ fd: Int32, until done: (String) -> Bool) -> (text: String, closed: Bool) {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !done(String(decoding: received, as: UTF8.self)) {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return (String(decoding: received, as: UTF8.self), true) }
                received += buffer[0..<n]
            }
            return (String(decoding: received, as: UTF8.self), false)
        }
    }

    static func occurrences(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test func pipelinedRequestsAreAnsweredInOrderOnOneConnection() async throws {
        let server = try await EmbeddedServer()
        let connection = try Connection(port: server.port)
        let auth = "Authorization: Bearer \(server.token)\r\n"
        // Three requests in one write: the version, a list, and a missing object.
        connection.send(
            "GET /version HTTP/1.1\r\nHost: x\r\n\(auth)\r\n"
                + "GET /apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments HTTP/1.1\r\nHost: x\r\n\(auth)\r\n"
                + "GET /apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments/nope HTTP/1.1\r\nHost: x\r\n\(auth)\r\n")
        let (text, closed) = await connection.read { Self.occurrences("HTTP/1.1 ", in: $0) == 3 && $0.hasSuffix("}") }
        #expect(!closed)
        let version = try #require(text.range(of: "\"gitVersion\""))
        let list = try #require(text.range(of: "\"ModelDeploymentList\""))
        let missing = try #require(text.range(of: "HTTP/1.1 404"))
        #expect(version.lowerBound < list.lowerBound && list.lowerBound < missing.lowerBound)
    }

    @Test func connectionCloseAndHTTP10AreHonoured() async throws {
        let server = try await EmbeddedServer()
        let auth = "Authorization: Bearer \(server.token)\r\n"
        let closing = try Connection(port: server.port)
        closing.send("GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(auth)\r\n")
        let answer = await closing.read { _ in false }
        #expect(answer.closed && answer.text.hasPrefix("HTTP/1.1 200") && answer.text.lowercased().contains("connection: close"))

        let old = try Connection(port: server.port)
        old.send("GET /version HTTP/1.0\r\n\(auth)\r\n")
        let oldAnswer = await old.read { _ in false }
        #expect(oldAnswer.closed && oldAnswer.text.hasPrefix("HTTP/1.0 200"))
    }

    @Test func anOversizedBodyIsRefusedAndTheConnectionClosed() async throws {
        let server = try await EmbeddedServer()
        let connection = try Connection(port: server.port)
        let size = 3 * 1024 * 1024 + 1
        connection.send(
            "POST /apis/modelplane.dev/v1alpha1/namespaces/default/modeldeployments HTTP/1.1\r\nHost: x\r\n"
                + "Authorization: Bearer \(server.token)\r\nContent-Type: application/json\r\nContent-Length: \(size)\r\n\r\n")
        connection.send(String(repeating: " ", count: size))
        let answer = await connection.read { _ in false }
        #expect(answer.closed && answer.text.hasPrefix("HTTP/1.1 413") && answer.text.contains("RequestEntityTooLarge"))
        #expect(try server.store.list(.modelDeployments).items.isEmpty)
    }

    @Test func aWatchEndsOnTheServerWhenItsClientGoesAway() async throws {
        let server = try await EmbeddedServer()
        var connection: Connection? = try Connection(port: server.port)
        connection?.send(
            "GET /apis/modelplane.dev/v1alpha1/modeldeployments?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(server.token)\r\n\r\n")
        let head = await connection?.read { $0.contains("\r\n\r\n") }
        #expect(head?.text.hasPrefix("HTTP/1.1 200") == true && head?.text.lowercased().contains("transfer-encoding: chunked") == true)
        #expect(server.store.watcherCount == 1)
        connection = nil  // closes the socket
        let deadline = ContinuousClock.now + .seconds(10)
        while server.store.watcherCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.store.watcherCount == 0)
    }
}
