import Foundation
import KubeClient
import Synchronization

/// Where the tests' real peers live: the repository, and the Python venv `scripts/setup` makes.
public enum Peers {
    /// A free loopback port (bound, read, released), for a peer that must be named before it starts.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The venv's Python (kmock, kubernetes-validate, ...). Tests that need it fail, loudly, when
    /// it is missing: running them without their peer would prove nothing.
    public static var python: String { get throws { try venvPython(".peers") } }

    /// The AWS peers' Python (botocore, moto; a venv of its own, see scripts/setup-peers).
    public static var awsPython: String { get throws { try venvPython(".peers/aws") } }

    /// The schemathesis peer's Python (a venv of its own: its dependencies are not the
    /// Kubernetes client's).
    public static var schemathesisPython: String { get throws { try venvPython(".peers/schemathesis") } }

    /// scipy and numpy (a venv of their own): the oracle of the drift statistics.
    public static var statsPython: String { get throws { try venvPython(".peers/stats") } }

    /// The pinned kubectl scripts/setup-peers installs (1.33), never whichever is on PATH.
    public static var kubectl: String { get throws { try tool("kubectl") } }

    /// The pinned helm scripts/setup-peers installs (4.x).
    public static var helm: String { get throws { try tool("helm") } }

    private static func tool(_ name: String) throws -> String {
        let path = repositoryRoot + "/.peers/bin/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw PeerError("\(path) is missing: run scripts/setup-peers (the test command does) to install the test peers")
        }
        return path
    }

    private static func venvPython(_ venv: String) throws -> String {
        let path = repositoryRoot + "/" + venv + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw PeerError("\(path) is missing: run scripts/setup-peers (the test command does) to install the test peers")
        }
        return path
    }

    public static func script(_ name: String) -> String { repositoryRoot + "/Tests/Peers/" + name }
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A child process a test started, reaped by a Dispatch thread that waits for it: started with
/// `posix_spawn` (KubeClient's `Subprocess.spawn`), not Foundation's `Process`, whose child
/// monitoring (a dispatch source per process) crashed the test runner inside libdispatch
/// (`_dispatch_event_loop_drain`) three times in a year of runs. Killed only while it is known
/// not to have exited, so a reused pid is never signalled.
final class SpawnedChild: Sendable {
    let pid: pid_t
    private struct State {
        var exited = false
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    init(pid: pid_t) {
        self.pid = pid
        let thread = Thread { [self] in self.reap() }
        thread.name = "child-\(pid)"
        thread.start()
    }

    /// The exit code, or the number of the signal that ended it; nil while it runs.
    var status: Int32? { state.withLock { $0.status } }

    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
        state.withLock { $0.exited = true }
        var raw: Int32 = 0
        var code: Int32 = -1
        while true {
            if waitpid(pid, &raw, 0) != -1 {
                let signal = raw & 0x7f
                code = signal == 0 ? (raw >> 8) & 0xff : signal
                break
            }
            if errno != EINTR { break }
        }
        let waiters = state.withLock { state in
            state.status = code
            defer { state.waiters = [] }
            return state.waiters
        }
        done.signal()
        for waiter in waiters { waiter.resume(returning: code) }
    }

    func kill(_ number: Int32) {
        state.withLock { state in
            if !state.exited { _ = Glibc.kill(pid, number) }
        }
    }

    /// Blocks until it has exited (at most `seconds`); its status.
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        if let status { return status }
        if done.wait(timeout: .now() + seconds) == .success { done.signal() }
        return status
    }

    /// Suspends until it has exited (resumed by the thread that reaps it: no thread waits).
    func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status: Int32? = state.withLock { state in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// `environment` over this process's, for a child.
    static func environment(_ extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(extra) { $1 }
    }
}

/// A peer server process started by a test. It prints `READY <port>` when it listens; it stops
/// when this value is released (its stdin closes and it is terminated).
public final class PeerProcess: Sendable {
    public let port: Int
    private let child: SpawnedChild
    private let stdin: Mutex<Int32>
    private let output: OutputLog
    private let stderrPath: String
    private let stopped = Atomic<Bool>(false)

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, child: SpawnedChild, stdin: Int32, output: OutputLog, stderrPath: String) {
        self.stderrPath = stderrPath
        self.port = port
        self.child = child
        self.stdin = Mutex(stdin)
        self.output = output
    }

    public var pid: Int32 { child.pid }

    /// Sends a signal (SIGSTOP and SIGCONT pause and resume it, as a stalled node would).
    public func signal(_ number: Int32) { child.kill(number) }

    /// The exit status once it has exited, nil while it runs.
    public var exitStatus: Int32? { child.status }

    /// Everything the peer printed so far (for failure messages).
    public var log: String { output.text.withLock { $0 } }

    /// What the peer wrote to its standard error so far.
    public var errorLog: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until the peer has exited; its exit status, or nil if it still runs after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while exitStatus == nil, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return exitStatus
    }

    /// Writes one line to the peer's standard input.
    public func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        stdin.withLock { fd in
            guard fd >= 0 else { return }
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return }
                sent += n
            }
        }
    }

    /// Waits until what the peer printed satisfies `condition`; false after `timeout`.
    public func waitForOutput(timeout: Duration = .seconds(10), _ condition: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(log) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(log)
    }

    /// `readyPort` finds the port in a line the process prints when it is ready (by default
    /// `READY <port>`).
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        readyPort: @escaping @Sendable (Substring) -> Int? = PeerProcess.readyLine
    ) async throws -> PeerProcess {
        // A peer that died before reading what a test sends it must not take the runner along.
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
        var env = SpawnedChild.environment(environment)
        env["PYTHONUNBUFFERED"] = "1"
        let input = try cloexecPipe()
        let stdout: (read: Int32, write: Int32)
        do {
            stdout = try cloexecPipe()
        } catch {
            close(input.read)
            close(input.write)
            throw error
        }
        // stderr goes to a file: read only when something fails, and a full pipe can never block the peer.
        let stderrPath = NSTemporaryDirectory() + "modelplane-peer-\(UUID().uuidString).log"
        let errorFile = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let pid: pid_t
        do {
            // In the test runner's process group: a run killed whole takes its peers along.
            pid = try Subprocess.spawn(
                executable, arguments, env, directory: nil, stdin: input.read, stdout: stdout.write, stderr: errorFile, ownGroup: false)
        } catch {
            for fd in [input.read, input.write, stdout.read, stdout.write, errorFile] { close(fd) }
            throw error
        }
        for fd in [input.read, stdout.write, errorFile] { close(fd) }
        let child = SpawnedChild(pid: pid)
        let output = OutputLog()
        let ready = AsyncStream<Int>.makeStream()
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            var found = false
            while true {
                let n = buffer.withUnsafeMutableBytes { read(stdout.read, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                let text = output.text.withLock { log in
                    log += String(decoding: buffer[..<n], as: UTF8.self)
                    return log
                }
                if !found {
                    for line in text.split(separator: "\n") {
                        if let port = readyPort(line) {
                            found = true
                            ready.continuation.yield(port)
                            ready.continuation.finish()
                            break
                        }
                    }
                }
            }
            close(stdout.read)
            ready.continuation.finish()
        }
        reader.name = "peer-output-\(pid)"
        reader.start()
        var port: Int?
        for await p in ready.stream {
            port = p
            break
        }
        guard let port else {
            child.kill(SIGKILL)
            child.wait(seconds: 10)
            close(input.write)
            let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: stderrPath)
            throw PeerError("\(executable) \(arguments.joined(separator: " ")) exited before it was ready:\n\(output.text.withLock { $0 })\(stderr)")
        }
        return PeerProcess(port: port, child: child, stdin: input.write, output: output, stderrPath: stderrPath)
    }

    /// Reads `READY <port>`, what the Python peers print.
    public static func readyLine(_ line: Substring) -> Int? {
        line.hasPrefix("READY ") ? Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) : nil
    }

    /// The port in the line the inference router prints once it listens
    /// (`modelplane: inference router on http://HOST:PORT (…)`), as `modelplane router` and
    /// `modelplane serve` print it.
    public static func routerLine(_ line: Substring) -> Int? {
        guard line.hasPrefix("modelplane: inference router on http://") else { return nil }
        return line.split(separator: " ").dropFirst(4).first?.split(separator: ":").last.flatMap { Int($0) }
    }

    /// The URL of the inference router this process (`modelplane serve`) announced, once it has.
    public func routerURL(timeout: Duration = .seconds(30)) async throws -> String {
        _ = await waitForOutput(timeout: timeout) { $0.split(separator: "\n").contains { Self.routerLine($0) != nil } }
        guard let port = log.split(separator: "\n").lazy.compactMap(Self.routerLine).first else {
            throw PeerError("no inference router announced: \(log)")
        }
        return "http://127.0.0.1:\(port)"
    }

    /// `modelplane serve` with its data in `directory`, on a free port; without its controller
    /// unless asked (API tests want the objects they write left alone).
    public static func modelplaneServe(
        data directory: String, controller: Bool = false, extraArguments: [String] = [], environment: [String: String] = [:]
    ) async throws -> PeerProcess {
        // The router on a free port too (its default, 8080, would be shared by tests running at once).
        let arguments =
            ["serve", "--data", directory, "--listen", "127.0.0.1:0", controller ? "--controller" : "--no-controller", "--router-listen", "127.0.0.1:0"]
            + extraArguments
        return try await start(Peers.modelplane, arguments, environment: environment) { line in
            // "modelplane: serving on https://127.0.0.1:PORT (...)"
            guard line.hasPrefix("modelplane: serving on ") else { return nil }
            let url = line.split(separator: " ")[3]
            guard let colon = url.lastIndex(of: ":") else { return nil }
            return Int(url[url.index(after: colon)...])
        }
    }

    /// The standard-library HTTP peer (`Tests/Peers/http_peer.py`).
    public static func httpPeer(_ arguments: [String] = []) async throws -> PeerProcess {
        try await start("/usr/bin/env", ["python3", Peers.script("http_peer.py")] + arguments)
    }

    public func stop() {
        stdin.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent), child.status == nil else { return }
        // SIGKILL: it ends at once, whatever it was doing.
        child.kill(SIGKILL)
        child.wait(seconds: 10)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}

private final class OutputLog: Sendable {
    let text = Mutex("")
}

/// A counting semaphore for commands run by tests.
actor CommandSlots {
    static let shared = CommandSlots(2)
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { free += 1 } else { waiters.removeFirst().resume() }
    }
}

/// Runs a command to completion and captures what it printed.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Runs `executable` with `arguments`, feeding `stdin`: for short commands (validators, the
    /// CLI). Awaits the exit instead of blocking a thread: with tests running in parallel on two
    /// cores, a blocked cooperative thread stalls every other test's tasks (there is deliberately
    /// no blocking version).
    public static func run(
        _ executable: String, _ arguments: [String], stdin: String? = nil, directory: String? = nil, environment: [String: String] = [:]
    ) async throws -> CommandResult {
        // At most two commands at once (as many as the blocking version allowed on 2 cores), so
        // suites running in parallel do not overload the machine into timeouts.
        await CommandSlots.shared.acquire()
        do {
            let result = try await runNow(executable, arguments, stdin: stdin, directory: directory, environment: environment)
            await CommandSlots.shared.release()
            return result
        } catch {
            await CommandSlots.shared.release()
            throw error
        }
    }

    private static func runNow(_ executable: String, _ arguments: [String], stdin: String?, directory: String?, environment: [String: String])
        async throws -> CommandResult
    {
        let scratch = NSTemporaryDirectory() + "modelplane-cmd-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // Files, not pipes: a command that prints a lot cannot block on a full pipe.
        try (stdin ?? "").write(toFile: scratch + "/in", atomically: false, encoding: .utf8)
        let input = open(scratch + "/in", O_RDONLY | O_CLOEXEC)
        let output = open(scratch + "/out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let errors = open(scratch + "/err", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { for fd in [input, output, errors] where fd >= 0 { close(fd) } }
        guard input >= 0, output >= 0, errors >= 0 else { throw PeerError("cannot make the files of a command in \(scratch)") }
        let env = environment.isEmpty ? ProcessInfo.processInfo.environment : SpawnedChild.environment(environment)
        let pid = try Subprocess.spawn(executable, arguments, env, directory: directory, stdin: input, stdout: output, stderr: errors, ownGroup: false)
        let status = await SpawnedChild(pid: pid).exited()
        return CommandResult(
            status: status,
            stdout: (try? String(contentsOfFile: scratch + "/out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: scratch + "/err", encoding: .utf8)) ?? ""
        )
    }
}

extension Peers {
    /// The `modelplane` executable built beside the test bundle.
    public static var modelplane: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("modelplane").path
    }
}
