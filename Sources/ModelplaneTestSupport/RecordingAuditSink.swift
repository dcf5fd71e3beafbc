public import Controller
import Synchronization

/// An audit sink that keeps the records in memory, in order: what a controller test asserts the
/// typed audit trail against without parsing the log file.
public final class RecordingAuditSink: AuditSink {
    private let kept = Mutex<[AuditRecord]>([])

    public init() {}

    public func record(_ record: AuditRecord) throws { kept.withLock { $0.append(record) } }

    public var records: [AuditRecord] { kept.withLock { $0 } }

    /// The trail as `action target outcome` lines, in order.
    public var lines: [String] { records.map { "\($0.entry.action) \($0.entry.target) \($0.entry.outcome.text)" } }
}
