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
        let killer = DispatchWorkItem {
            timedOut.set()
            process.terminate()
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
                process.waitUntilExit()
                killer.cancel()
                continuation.resume(
                    returning: ProcessOutput(status: process.terminationStatus, stdout: out.data, stderr: err.data, timedOut: timedOut.value))
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
