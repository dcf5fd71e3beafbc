import Foundation
import Metrics
import ModelplaneAPI
import Synchronization

/// One sampled request with its answer.
struct CaptureRecord: Sendable {
    var namespace: String
    var name: String
    var limit: Int64
    /// One JSON line, newline included.
    var line: Data
}

/// Writes `spec.capture`'s sample as JSON lines, `DIRECTORY/NAMESPACE/NAME/capture-N.jsonl`,
/// rotating so that a deployment's files stay within its `maxBytes` (four files of a quarter
/// each; the oldest is removed). Requests only queue a line (a bounded queue: when the disk is
/// slower than the traffic, lines are dropped and counted); one task writes.
final class CaptureWriter: Sendable {
    let directory: String
    private let stream: AsyncStream<CaptureRecord>
    private let continuation: AsyncStream<CaptureRecord>.Continuation
    /// Files per deployment: the newest is written, the oldest removed.
    static let files = 4

    init(directory: String, capacity: Int = 1024) {
        self.directory = directory
        (stream, continuation) = AsyncStream.makeStream(of: CaptureRecord.self, bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Whether this request is one of the sample.
    static func sampled(_ capture: ModelDeployment.Capture?) -> Bool {
        guard let capture, capture.sampleRate > 0 else { return false }
        return capture.sampleRate >= 1 || Double.random(in: 0..<1) < capture.sampleRate
    }

    /// Queues one record: id, time, revision, version, latency, the request's inputs and the
    /// answer's outputs (JSON; binary tensor data as base64 under `binary`).
    func offer(
        namespace: String, name: String, capture: ModelDeployment.Capture, id: String, target: ModelDeployment.TrafficTarget, latency: Duration,
        request: JSONValue, requestBinary: Data, answer: JSONValue?, answerBinary: Data, status: Int
    ) {
        var record: JSONValue = [
            "id": .string(id), "time": .string(Timestamps.rfc3339(Date())), "namespace": .string(namespace), "deployment": .string(name),
            "version": .string(target.version), "status": .int(Int64(status)),
            "latencyMs": .double(((Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15) * 1000).rounded() / 1000),
        ]
        if let revision = target.revision { record["revision"] = .string(revision) }
        record["inputs"] = request["inputs"] ?? .null
        if let parameters = request["parameters"] { record["parameters"] = parameters }
        record["outputs"] = answer?["outputs"] ?? .null
        if let error = answer?["error"] { record["error"] = error }
        if !requestBinary.isEmpty { record["requestBinary"] = .string(requestBinary.base64EncodedString()) }
        if !answerBinary.isEmpty { record["answerBinary"] = .string(answerBinary.base64EncodedString()) }
        let line = Data((record.canonicalText + "\n").utf8)
        let labels = [("namespace", namespace), ("deployment", name)]
        let limit = capture.byteLimit
        // A record larger than a file would never fit: dropped.
        guard Int64(line.count) <= limit / Int64(Self.files),
            case .enqueued = continuation.yield(CaptureRecord(namespace: namespace, name: name, limit: limit, line: line))
        else {
            Counter(label: "modelplane_router_capture_dropped_total", dimensions: labels).increment()
            return
        }
        Counter(label: "modelplane_router_capture_records_total", dimensions: labels).increment()
    }

    func stop() { continuation.finish() }

    /// Writes what is queued until stopped.
    func run() async {
        var open: [String: (handle: FileHandle, size: Int64, index: Int)] = [:]
        for await record in stream {
            let folder = "\(directory)/\(record.namespace)/\(record.name)"
            let perFile = record.limit / Int64(Self.files)
            var current = open[folder]
            if current == nil || current!.size + Int64(record.line.count) > perFile {
                try? current?.handle.close()
                let index = current.map { $0.index + 1 } ?? (Self.newest(in: folder) ?? 0) + 1
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let path = "\(folder)/capture-\(index).jsonl"
                guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else { continue }
                current = (handle, 0, index)
                // Keep the newest files only.
                for old in Self.indexes(in: folder) where old <= index - Self.files {
                    try? FileManager.default.removeItem(atPath: "\(folder)/capture-\(old).jsonl")
                }
            }
            guard var file = current else { continue }
            do {
                try file.handle.write(contentsOf: record.line)
                file.size += Int64(record.line.count)
            } catch {
                Counter(label: "modelplane_router_capture_dropped_total", dimensions: [("namespace", record.namespace), ("deployment", record.name)])
                    .increment()
            }
            open[folder] = file
        }
        for file in open.values { try? file.handle.close() }
    }

    static func indexes(in folder: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { entry in
            guard entry.hasPrefix("capture-"), entry.hasSuffix(".jsonl") else { return nil }
            return Int(entry.dropFirst("capture-".count).dropLast(".jsonl".count))
        }
    }

    static func newest(in folder: String) -> Int? { indexes(in: folder).max() }
}
