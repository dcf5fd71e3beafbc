import Digests
public import Foundation
public import ModelplaneAPI
import Synchronization

/// An append-only record of every action the controller takes against a backend: JSON lines,
/// each carrying the SHA-256 of the line before it (`prev`), so editing or deleting any line
/// breaks the chain after it. The newest line's hash is kept beside the log (`PATH.head`), so
/// cutting lines off the end is detected too. `verify` checks both.
public final class AuditLog: Sendable {
    public let path: String
    private let last = Mutex<String>("")

    public static let genesis = String(repeating: "0", count: 64)

    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        try Self.recover(path)
        let lines = try Self.lines(path)
        last.withLock { $0 = lines.last.map(SHA256Digest.hex) ?? Self.genesis }
    }

    /// After a crash: a last line without its newline was never synced, so it is dropped; a head
    /// one record behind means the crash came between syncing a record and updating the head.
    static func recover(_ path: String) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        if let last = data.last, last != UInt8(ascii: "\n") {
            data = data[..<(data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.startIndex)]
            try data.write(to: URL(fileURLWithPath: path))
        }
        let lines = try lines(path)
        guard let newest = lines.last, let head = try? String(contentsOfFile: path + ".head", encoding: .utf8) else { return }
        let previous = lines.count > 1 ? SHA256Digest.hex(lines[lines.count - 2]) : genesis
        if head == previous { try Data(SHA256Digest.hex(newest).utf8).write(to: URL(fileURLWithPath: path + ".head"), options: .atomic) }
    }

    public struct Record: Sendable {
        public var deployment: String
        public var revision: Int64?
        public var action: String
        public var target: String
        public var detail: JSONValue?
        public var outcome: String

        public init(deployment: String, revision: Int64?, action: String, target: String, detail: JSONValue? = nil, outcome: String) {
            self.deployment = deployment
            self.revision = revision
            self.action = action
            self.target = target
            self.detail = detail
            self.outcome = outcome
        }
    }

    /// Appends one record and syncs it to disk before returning.
    public func append(_ record: Record, at time: Date = Date()) throws {
        try last.withLock { previous in
            var line: JSONValue = [
                "time": .string(Timestamps.rfc3339Micro(time)), "deployment": .string(record.deployment), "action": .string(record.action),
                "target": .string(record.target), "outcome": .string(record.outcome), "prev": .string(previous),
            ]
            if let revision = record.revision { line["revision"] = .int(revision) }
            if let detail = record.detail { line["detail"] = detail }
            let text = line.canonicalText
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((text + "\n").utf8))
            try handle.synchronize()
            let hash = SHA256Digest.hex(text)
            try Data(hash.utf8).write(to: URL(fileURLWithPath: path + ".head"), options: .atomic)
            previous = hash
        }
    }

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { line > 0 ? "\(line): \(message)" : message }
    }

    /// Checks the chain; returns the number of records, or the first break.
    public static func verify(path: String) throws -> Int {
        let lines = try lines(path)
        var previous = genesis
        for (index, line) in lines.enumerated() {
            guard let record = try? JSONValue(parsing: Data(line.utf8)) else {
                throw Problem(line: index + 1, message: "not a JSON record")
            }
            guard record["prev"]?.stringValue == previous else {
                throw Problem(line: index + 1, message: "the chain is broken here: a record before this line was edited, removed or inserted")
            }
            guard record.canonicalText == line else {
                throw Problem(line: index + 1, message: "the record is not in canonical form: it was edited")
            }
            previous = SHA256Digest.hex(line)
        }
        if let head = try? String(contentsOfFile: path + ".head", encoding: .utf8), head != previous {
            throw Problem(line: 0, message: "the log ends before the last record written (\(path).head names a later one): records were cut off the end")
        }
        return lines.count
    }

    private static func lines(_ path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }
}
