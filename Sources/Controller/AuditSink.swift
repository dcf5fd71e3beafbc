public import Foundation
public import Rollout

/// One action the controller took against a backend, as the reconciler reports it: which
/// deployment and revision, what it did (a backend's typed `AuditEntry`), and when (the
/// reconciler's clock).
public struct AuditRecord: Sendable, Hashable {
    public var deployment: String
    public var revision: Int64?
    public var entry: AuditEntry
    public var time: Date

    public init(deployment: String, revision: Int64?, entry: AuditEntry, time: Date) {
        self.deployment = deployment
        self.revision = revision
        self.entry = entry
        self.time = time
    }
}

/// Where the reconciler's audit records go. `AuditLog` (the hash-chained file `audit verify`
/// checks) is the one a process runs with; a sink must have the record durably before it returns,
/// since the reconciler audits each action as it completes and goes on only after.
public protocol AuditSink: Sendable {
    func record(_ record: AuditRecord) throws
}

extension AuditLog: AuditSink {
    public func record(_ record: AuditRecord) throws {
        let entry = record.entry
        try append(
            Record(
                deployment: record.deployment, revision: record.revision, action: entry.action, target: entry.target, detail: entry.detail,
                outcome: entry.outcome.text),
            at: record.time)
    }
}
