internal import CCurl
import Foundation
import Synchronization

/// Runs every transfer of one `HTTPClient` on curl's multi interface, on a thread of its own, so
/// no Swift concurrency thread ever blocks on the network. Other threads talk to it only by
/// queueing work under a lock and calling `curl_multi_wakeup`, the one multi call that is safe
/// from any thread. The multi handle keeps a connection cache, which gives keep-alive reuse.
final class CurlEngine: @unchecked Sendable {
    // Touched only on the engine thread (after init), hence @unchecked.
    private let multi: UnsafeMutableRawPointer
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    private struct Inbox {
        var added: [Transfer] = []
        var cancelled: [Transfer] = []
        var shuttingDown = false
        /// The owning client is gone: stop once nothing is in flight.
        var released = false
    }
    private let inbox = Mutex(Inbox())

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init() {
        _ = Self.globalInit
        multi = curl_multi_init()
        _ = mp_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 32)
        let thread = Thread { [self] in run() }
        thread.name = "modelplane-curl"
        thread.start()
    }

    func submit(_ transfer: Transfer) {
        let refused = inbox.withLock { inbox -> Bool in
            if inbox.shuttingDown { return true }
            inbox.added.append(transfer)
            return false
        }
        if refused {
            transfer.fail(HTTPClientError(.shutDown, "the HTTP client was shut down"))
            return
        }
        curl_multi_wakeup(multi)
    }

    func cancel(_ transfer: Transfer) {
        let accepted = inbox.withLock { inbox -> Bool in
            if inbox.shuttingDown { return false }
            inbox.cancelled.append(transfer)
            return true
        }
        if accepted { curl_multi_wakeup(multi) }
    }

    /// The client is gone; let transfers in flight finish, then stop the thread.
    func release() {
        inbox.withLock { $0.released = true }
        curl_multi_wakeup(multi)
    }

    /// Fails everything in flight and stops the thread. Idempotent.
    func shutdown() {
        let first = inbox.withLock { inbox -> Bool in
            defer { inbox.shuttingDown = true }
            return !inbox.shuttingDown
        }
        if first { curl_multi_wakeup(multi) }
    }

    private func run() {
        while true {
            let work = inbox.withLock { inbox -> Inbox in
                defer {
                    inbox.added = []
                    inbox.cancelled = []
                }
                return inbox
            }
            for transfer in work.added {
                if let error = transfer.start(in: multi) {
                    transfer.fail(error)
                } else if let easy = transfer.easy {
                    active[easy] = transfer
                }
            }
            for transfer in work.cancelled {
                guard let easy = transfer.easy, active.removeValue(forKey: easy) != nil else { continue }
                transfer.finish(in: multi, result: CURLE_ABORTED_BY_CALLBACK, cancelled: true)
            }
            if work.released, active.isEmpty, !work.shuttingDown {
                let idle = inbox.withLock { inbox -> Bool in
                    if inbox.added.isEmpty { inbox.shuttingDown = true }
                    return inbox.added.isEmpty
                }
                if idle {
                    curl_multi_cleanup(multi)
                    return
                }
            }
            if work.shuttingDown {
                for (_, transfer) in active {
                    transfer.finish(in: multi, result: CURLE_ABORTED_BY_CALLBACK, cancelled: true, shutDown: true)
                }
                active = [:]
                // Fail what was queued after the last pass.
                let late = inbox.withLock { inbox -> [Transfer] in
                    defer { inbox.added = [] }
                    return inbox.added
                }
                for transfer in late { transfer.fail(HTTPClientError(.shutDown, "the HTTP client was shut down")) }
                curl_multi_cleanup(multi)
                return
            }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard mp_msg_is_done(message) != 0, let easy = mp_msg_easy_handle(message) else { continue }
                let result = mp_msg_result(message)
                if let transfer = active.removeValue(forKey: easy) {
                    transfer.finish(in: multi, result: result, cancelled: false)
                }
            }
            // Sleeps until a socket is ready, curl's next timeout, or a wakeup from another thread.
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}
