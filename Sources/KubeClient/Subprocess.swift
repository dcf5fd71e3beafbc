import CSpawn
import Dispatch
package import Foundation

/// What a finished child process said.
package struct ProcessOutput: Sendable {
    package var status: Int32
    package var stdout: Data
    package var stderr: Data
    package var timedOut: Bool
}

/// A program that could not be started.
package struct SubprocessError: LocalizedError, CustomStringConvertible {
    package var description: String
    package var errorDescription: String? { description }
}

/// Runs programs without a shell (arguments are never interpreted), off Swift's cooperative
/// pool: the blocking waits and pipe reads happen on Dispatch threads. (Used for git and for
/// kubeconfig exec credential plugins.)
///
/// Children are started with `posix_spawn` directly, not Foundation's `Process`: a child inherits
/// ignored signals and the blocked mask, and `serve` and `controller` ignore SIGPIPE (SwiftNIO),
/// and SIGTERM while their ServiceGroup sets up the dispatch source that takes it;
/// with `Process`, the git or credential plugin they started ignored them too. Here every signal
/// is reset to its default and none is blocked, and the child leads a process group of its own,
/// so a timeout kills it and what it started (git's `git-remote-https` or `ssh`, which would
/// otherwise keep the output pipes open).
package enum Subprocess {
    /// Runs `executable` with `arguments` and exactly `environment`; writes `input` to its
    /// standard input; kills it (its process group) after `timeout`.
    package static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], input: Data? = nil, timeout: Duration
    ) async throws -> ProcessOutput {
        // Every pipe made is closed again if a later one, or the spawn, fails (descriptors
        // running out is exactly when that happens).
        var made: [PipeEnds] = []
        let stdout: PipeEnds
        let stderr: PipeEnds
        let stdin: PipeEnds?
        let pid: pid_t
        do {
            stdout = try PipeEnds()
            made.append(stdout)
            stderr = try PipeEnds()
            made.append(stderr)
            stdin = input == nil ? nil : try PipeEnds()
            if let stdin { made.append(stdin) }
            pid = try spawn(executable, arguments, environment, directory: nil, stdin: stdin?.read, stdout: stdout.write, stderr: stderr.write)
        } catch {
            for ends in made { ends.closeBoth() }
            throw error
        }
        // The child holds its own copies; the parent keeps only its ends.
        close(stdout.write)
        close(stderr.write)
        if let stdin { close(stdin.read) }

        let child = ChildState(pid: pid)
        let killer = DispatchWorkItem { child.timeOut() }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
        return await withCheckedContinuation { continuation in
            let group = DispatchGroup()
            let out = DataBox()
            let err = DataBox()
            DispatchQueue.global().async(group: group) { out.data = FileHandle(fileDescriptor: stdout.read, closeOnDealloc: true).readDataToEndOfFile() }
            DispatchQueue.global().async(group: group) { err.data = FileHandle(fileDescriptor: stderr.read, closeOnDealloc: true).readDataToEndOfFile() }
            if let input, let stdin {
                DispatchQueue.global().async(group: group) {
                    // A child that exits early closes the pipe; writing then fails, which is fine.
                    let handle = FileHandle(fileDescriptor: stdin.write, closeOnDealloc: true)
                    try? handle.write(contentsOf: input)
                    try? handle.close()
                }
            }
            group.notify(queue: .global()) {
                let status = child.waitForExit()
                killer.cancel()
                continuation.resume(returning: ProcessOutput(status: status, stdout: out.data, stderr: err.data, timedOut: child.timedOut))
            }
        }
    }

    /// Starts the child: standard input from `stdin` (or /dev/null), output to the given
    /// descriptors, in `directory` (nil: this process's), every other descriptor closed, default
    /// signal dispositions, nothing blocked, and (`ownGroup`) a process group of its own. The
    /// caller reaps it.
    package static func spawn(
        _ executable: String, _ arguments: [String], _ environment: [String: String], directory: String?, stdin: Int32?, stdout: Int32,
        stderr: Int32, ownGroup: Bool = true
    ) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory { cspawn_addchdir(&actions, directory) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        cspawn_addclosefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (ownGroup ? POSIX_SPAWN_SETPGROUP : 0)))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SubprocessError(description: "cannot run \(executable): \(String(cString: strerror(result)))") }
        return pid
    }

    /// `name` found on `PATH`, or nil.
    package static func find(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// A pipe whose descriptors are closed on exec: `(read, write)`.
package func cloexecPipe() throws -> (read: Int32, write: Int32) {
    let ends = try PipeEnds()
    return (ends.read, ends.write)
}

/// Written by one Dispatch thread, read after the group finishes.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// A pipe whose descriptors are closed on exec (the child gets its copies through `dup2`).
private struct PipeEnds {
    let read: Int32
    let write: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard cspawn_pipe_cloexec(&fds) == 0 else { throw SubprocessError(description: "cannot create a pipe: \(String(cString: strerror(errno)))") }
        read = fds[0]
        write = fds[1]
    }

    func closeBoth() {
        close(read)
        close(write)
    }
}

/// A child between its start and its reaping, shared by the timeout and the waiter. The timeout
/// kills the child's process group only while the child is not yet known to have exited: once
/// reaped, its pid (and group id) may already be another process's.
private final class ChildState: @unchecked Sendable {
    private let pid: pid_t
    private let lock = NSLock()
    private var exited = false
    private var killed = false

    init(pid: pid_t) { self.pid = pid }

    var timedOut: Bool { lock.withLock { killed } }

    func timeOut() {
        lock.withLock {
            guard !exited else { return }
            killed = true
            kill(-pid, SIGKILL)
        }
    }

    /// Blocks until the child exits; its exit code, or the number of the signal that ended it.
    /// Waits without reaping first (the pid stays the child's), marks it exited, then reaps.
    func waitForExit() -> Int32 {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
        lock.withLock { exited = true }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : signal
    }
}

extension Process {
    /// Reaps the child with a blocking `waitpid` and returns its exit code or the number of the signal that ended it;
    /// nil where Foundation reaped it first (Foundation then has the status, and its own
    /// `waitpid`, finding the child gone, records a plain exit).
    ///
    /// `waitUntilExit` spins a run loop until Foundation's process-monitor thread reports the exit;
    /// once, in a test run, that report never came and a thread spun at 100% CPU for 14 minutes
    /// (in a test peer's `stop()`). The kernel's answer cannot be missed.
    package func statusFromWaitpid() -> Int32? {
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) == -1 {
            if errno != EINTR { return nil }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : signal
    }
}
