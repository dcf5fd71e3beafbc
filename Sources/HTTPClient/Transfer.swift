internal import CCurl
import Foundation
import Synchronization

/// One request/response exchange. curl calls back into it on the engine thread; the awaiting
/// task receives the head through a continuation and the body through an AsyncThrowingStream.
final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    private let configuration: HTTPClientConfiguration

    // Engine-thread state.
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var headers = HTTPHeaders()
    private var headDelivered = false
    /// The body got further ahead of its reader than the configuration allows.
    private var overflowed = false

    /// State shared with the awaiting task.
    private struct Shared {
        var head: CheckedContinuation<HTTPResponseHead, any Error>?
        /// The awaiting task was cancelled: refuse to start, or abort if started.
        var cancelled = false
    }
    private let shared = Mutex(Shared())
    /// Handed to the caller once (`takeBody`): the transfer must not keep it alive, because the
    /// stream's release is what tells us the caller has stopped listening.
    private let unclaimedBody: Mutex<AsyncThrowingStream<Data, any Error>?>
    private let bodyContinuation: AsyncThrowingStream<Data, any Error>.Continuation
    private let reused = Mutex(false)

    /// Bytes received and not yet read, shared with the body's reader (never with the transfer's
    /// side of the stream, whose release is how we learn the reader has gone).
    final class Unread: Sendable {
        let bytes = Atomic<Int>(0)
    }

    private let unread = Unread()
    /// How many unread bytes the body may hold before the transfer is stopped.
    private let limit: Int

    /// `limit`: how far the body may get ahead of its reader, in bytes.
    init(request: HTTPRequest, configuration: HTTPClientConfiguration, limit: Int) {
        self.limit = limit
        self.request = request
        self.configuration = configuration
        errorBuffer.initialize(to: 0)
        let (body, continuation) = AsyncThrowingStream.makeStream(of: Data.self)
        unclaimedBody = Mutex(body)
        bodyContinuation = continuation
    }

    /// The body, counting what its reader takes off the unread bytes.
    func takeBody() -> AsyncThrowingStream<Data, any Error> {
        let body = unclaimedBody.withLock { body in
            defer { body = nil }
            return body!
        }
        let reader = Reader(iterator: body.makeAsyncIterator(), unread: unread)
        return AsyncThrowingStream { try await reader.next() }
    }

    /// The body's one reader. (Unchecked: an AsyncThrowingStream has a single consumer, so its
    /// iterator is only ever used by one task at a time.)
    final class Reader: @unchecked Sendable {
        var iterator: AsyncThrowingStream<Data, any Error>.AsyncIterator
        let unread: Unread

        init(iterator: AsyncThrowingStream<Data, any Error>.AsyncIterator, unread: Unread) {
            self.iterator = iterator
            self.unread = unread
        }

        func next() async throws -> Data? {
            let chunk = try await iterator.next()
            if let chunk { unread.bytes.subtract(chunk.count, ordering: .relaxed) }
            return chunk
        }
    }

    deinit {
        errorBuffer.deallocate()
    }

    var reusedConnection: Bool { reused.withLock { $0 } }

    /// Called by the awaiting task: waits for the response head.
    func awaitHead(on engine: CurlEngine) async throws -> HTTPResponseHead {
        bodyContinuation.onTermination = { [weak self, weak engine] termination in
            if case .cancelled = termination, let self, let engine { engine.cancel(self) }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let cancelled = shared.withLock { shared -> Bool in
                    if shared.cancelled { return true }
                    shared.head = continuation
                    return false
                }
                if cancelled {
                    continuation.resume(throwing: HTTPClientError(.cancelled, "the request was cancelled"))
                } else {
                    engine.submit(self)
                }
            }
        } onCancel: {
            // Marked first, so a transfer the engine has not started yet never starts; then the
            // engine aborts it if it already has.
            let waiting = shared.withLock { shared -> Bool in
                shared.cancelled = true
                return shared.head != nil
            }
            if waiting { engine.cancel(self) }
        }
    }

    // MARK: - Engine thread

    /// Creates and configures the easy handle and adds it to the multi handle; returns an error
    /// instead when the request cannot be made.
    func start(in multi: UnsafeMutableRawPointer) -> HTTPClientError? {
        guard let easy = curl_easy_init() else { return HTTPClientError(.other, "curl_easy_init failed") }
        self.easy = easy
        let me = Unmanaged.passUnretained(self).toOpaque()
        var failed: CURLcode = CURLE_OK
        func set(_ code: CURLcode) { if code != CURLE_OK, failed == CURLE_OK { failed = code } }

        set(mp_easy_setopt_string(easy, CURLOPT_URL, request.url))
        set(mp_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(mp_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(mp_easy_setopt_long(easy, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS)))
        set(mp_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        set(mp_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout)))
        if let timeout = request.timeout {
            set(mp_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout)))
        }
        set(mp_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        set(mp_easy_setopt_string(easy, CURLOPT_USERAGENT, configuration.userAgent))
        set(mp_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))

        switch request.method {
        case "GET": break
        case "HEAD": set(mp_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        default: set(mp_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if let body = request.body {
            set(mp_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            body.withUnsafeBytes { raw in
                set(
                    mp_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
                )
            }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for field in request.headers {
            list = curl_slist_append(list, "\(field.name): \(field.value)")
        }
        // No `Expect: 100-continue` round trip for large bodies; no form content type by default.
        list = curl_slist_append(list, "Expect:")
        if request.body != nil, request.headers["Content-Type"] == nil {
            list = curl_slist_append(list, "Content-Type: application/octet-stream")
        }
        headerList = list
        set(mp_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))

        configureTLS(easy, set)

        set(
            mp_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION) { buffer, size, count, userdata in
                Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue().receiveHeader(buffer!, size * count)
            })
        set(mp_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me))
        set(
            mp_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { buffer, size, count, userdata in
                Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue().receiveBody(buffer!, size * count)
            })
        set(mp_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me))

        if failed != CURLE_OK {
            cleanup()
            return HTTPClientError(.invalidRequest, "cannot configure the request: \(String(cString: curl_easy_strerror(failed)))")
        }
        if shared.withLock({ $0.cancelled }) {
            cleanup()
            return HTTPClientError(.cancelled, "the request was cancelled")
        }
        curl_multi_add_handle(multi, easy)
        return nil
    }

    private func configureTLS(_ easy: UnsafeMutableRawPointer, _ set: (CURLcode) -> Void) {
        let tls = configuration.tls
        func pem(_ source: TLSConfiguration.PEM?, file: CURLoption, blob: CURLoption) {
            switch source {
            case .file(let path)?: set(mp_easy_setopt_string(easy, file, path))
            case .data(let data)?:
                var copy = data
                copy.withUnsafeMutableBytes { raw in set(mp_easy_setopt_blob(easy, blob, raw.baseAddress, raw.count)) }
            case nil: break
            }
        }
        pem(tls.certificateAuthority, file: CURLOPT_CAINFO, blob: CURLOPT_CAINFO_BLOB)
        pem(tls.clientCertificate, file: CURLOPT_SSLCERT, blob: CURLOPT_SSLCERT_BLOB)
        pem(tls.clientKey, file: CURLOPT_SSLKEY, blob: CURLOPT_SSLKEY_BLOB)
        if tls.clientCertificate != nil { set(mp_easy_setopt_string(easy, CURLOPT_SSLCERTTYPE, "PEM")) }
        if tls.insecureSkipVerify {
            set(mp_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0))
            set(mp_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0))
        }
    }

    private func receiveHeader(_ buffer: UnsafeMutablePointer<CChar>, _ length: Int) -> Int {
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers = HTTPHeaders()  // a new response (after 1xx) starts over
        } else if line.isEmpty {
            var status = 0
            _ = mp_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            if status >= 200 { deliverHead(status: status) }
        } else if let colon = line.firstIndex(of: ":") {
            headers.add(String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return length
    }

    private func receiveBody(_ buffer: UnsafeMutablePointer<CChar>, _ length: Int) -> Int {
        if !headDelivered {
            var status = 0
            _ = mp_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            deliverHead(status: status)
        }
        if unread.bytes.add(length, ordering: .relaxed).newValue > limit {
            // The reader is that far behind: abort (curl fails the transfer with a write error,
            // which `finish` reports as this).
            overflowed = true
            return 0
        }
        bodyContinuation.yield(Data(bytes: buffer, count: length))
        return length
    }

    private func deliverHead(status: Int) {
        guard !headDelivered else { return }
        headDelivered = true
        var connects = 0
        _ = mp_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
        reused.withLock { $0 = connects == 0 }
        let continuation = shared.withLock { shared in
            defer { shared.head = nil }
            return shared.head
        }
        continuation?.resume(returning: HTTPResponseHead(status: status, headers: headers))
    }

    /// Removes the handle and ends the exchange with curl's result.
    func finish(in multi: UnsafeMutableRawPointer, result: CURLcode, cancelled: Bool, shutDown: Bool = false) {
        if let easy { curl_multi_remove_handle(multi, easy) }
        if result == CURLE_OK {
            if !headDelivered {
                var status = 0
                _ = mp_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                deliverHead(status: status)
            }
            cleanup()
            bodyContinuation.finish()
            return
        }
        let error: HTTPClientError
        if shutDown {
            error = HTTPClientError(.shutDown, "the HTTP client was shut down")
        } else if cancelled {
            error = HTTPClientError(.cancelled, "the request was cancelled")
        } else if overflowed {
            error = HTTPClientError(.responseTooLarge, "the response got more than \(limit) bytes ahead of its reader; the transfer was stopped")
        } else {
            error = Self.error(for: result, detail: String(cString: errorBuffer), url: request.url)
        }
        cleanup()
        fail(error)
    }

    /// Ends the exchange with an error, whichever side is waiting.
    func fail(_ error: HTTPClientError) {
        let continuation = shared.withLock { shared in
            defer { shared.head = nil }
            return shared.head
        }
        if let continuation {
            continuation.resume(throwing: error)
        }
        bodyContinuation.finish(throwing: error)
    }

    private func cleanup() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// curl's message without the timings it adds ("... port 9 after 0 ms: ...", "timed out
    /// after 5001 milliseconds with 0 bytes received"): the same failure then reads the same each
    /// time, so a status condition that quotes it does not change (and is not rewritten) on
    /// every retry.
    static func stable(_ detail: String) -> String {
        detail.replacing(#/ after \d+ (ms|milliseconds)( with \d+ (out of \d+ )?bytes received)?/#, with: "")
    }

    static func error(for code: CURLcode, detail: String, url: String) -> HTTPClientError {
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : stable(detail)
        switch code {
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return HTTPClientError(.invalidRequest, "\(message) (\(url))")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return HTTPClientError(.couldNotResolveHost, message)
        case CURLE_COULDNT_CONNECT:
            return HTTPClientError(.couldNotConnect, message)
        case CURLE_OPERATION_TIMEDOUT:
            return HTTPClientError(.timedOut, message)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_USE_SSL_FAILED, CURLE_SSL_CLIENTCERT:
            return HTTPClientError(.tls, message)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return HTTPClientError(.connectionLost, message)
        default:
            return HTTPClientError(.other, message)
        }
    }
}
