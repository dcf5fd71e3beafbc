import Dispatch
package import Foundation

/// What a finished child process said.
package struct ProcessOutput: Sendable {
    package var status: Int32
    package var stdout: Data
    package var stderr: Data
    package var timedOut: Bool
}

/// Runs programs without a shell (arguments are never interpreted), off Swift's cooperative
/// pool: the blocking waits and pipe reads happen on Dispatch threads. (Used for git and for
/// kubeconfig exec credential plugins.)
package enum Subprocess {
    /// Runs `executable` with `arguments` and exactly `environment`; writes `input` to its
    /// standard input; kills it after `timeout`.
    package static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], input: Data? = nil, timeout: Duration
    ) async throws -> ProcessOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        let timedOut = TimeoutFlag()
        // SIGKILL, not `terminate()`'s SIGTERM: a child inherits ignored signals and the blocked
        // mask, and `serve` and `controller` ignore SIGTERM (they take it from a dispatch
        // source), so a git that hung inside them outlived its timeout.
        //
        // Foundation starts the child in a process group of its own; killing the group also
        // ends what it started (git's `git-remote-https` or `ssh`), which would otherwise keep
        // the output pipes open after it died.
        let pid = process.processIdentifier
        let target = getpgid(pid) == pid ? -pid : pid
        let killer = DispatchWorkItem {
            timedOut.set()
            kill(target, SIGKILL)
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
        return await withCheckedContinuation { continuation in
            let group = DispatchGroup()
            let out = DataBox()
            let err = DataBox()
            DispatchQueue.global().async(group: group) { out.data = stdout.fileHandleForReading.readDataToEndOfFile() }
            DispatchQueue.global().async(group: group) { err.data = stderr.fileHandleForReading.readDataToEndOfFile() }
            if let input {
                DispatchQueue.global().async(group: group) {
                    // A child that exits early closes the pipe; writing then fails, which is fine.
                    try? stdin.fileHandleForWriting.write(contentsOf: input)
                    try? stdin.fileHandleForWriting.close()
                }
            }
            group.notify(queue: .global()) {
                let status = process.reapedStatus()
                killer.cancel()
                continuation.resume(returning: ProcessOutput(status: status, stdout: out.data, stderr: err.data, timedOut: timedOut.value))
            }
        }
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

/// Written by one Dispatch thread, read after the group finishes.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

private final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var value: Bool { lock.withLock { flag } }
}

extension Process {
    /// Blocks until the child exits and returns what `terminationStatus` would: the exit code, or
    /// the number of the signal that ended it.
    package func reapedStatus() -> Int32 {
        if let status = statusFromWaitpid() { return status }
        waitUntilExit()
        return terminationStatus
    }

    /// Reaps the child with a blocking `waitpid` and returns its status as `reapedStatus` does;
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
