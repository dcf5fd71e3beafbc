public import Foundation
public import ModelplaneAPI

/// The revisions a deployment records in its status.
public enum Revisions {
    /// Appends a revision when the serving-relevant spec is new; returns the current revision.
    public static func record(_ status: inout ModelDeployment.Status, _ md: ModelDeployment, now: Date) -> Int64? {
        let hash = md.spec.revisionHash
        var revisions = status.revisions ?? []
        if revisions.last?.hash != hash {
            let number = (revisions.last?.revision ?? 0) + 1
            // A change-cause counts for the spec it was written with: a later edit that leaves the
            // annotation behind is not, say, the rollback that set it.
            let annotations = md.metadata.annotations ?? [:]
            let given = annotations[ModelDeployment.changeCauseAnnotation].flatMap { cause in
                annotations[ModelDeployment.changeCauseHashAnnotation].map { $0 == hash ? cause : nil } ?? cause
            }
            let cause = given ?? (number == 1 ? "created" : "spec changed (generation \(md.metadata.generation ?? 0))")
            revisions.append(
                .init(
                    revision: number, hash: hash, version: md.spec.model.version, createdAt: Timestamps.rfc3339(now), cause: cause,
                    spec: md.spec.servingRelevantJSON))
            let keep = Int(md.spec.revisionHistoryLimit ?? ModelDeployment.Defaults.revisionHistoryLimit) + 1
            if revisions.count > keep { revisions.removeFirst(revisions.count - keep) }
            status.revisions = revisions
        }
        return revisions.last?.revision
    }

    /// `modelplane history`'s table: revision (marked when it serves), version, hash, created, cause.
    public static func rows(_ status: ModelDeployment.Status?) -> [[String]] {
        let serving = status?.currentRevision
        return (status?.revisions ?? []).map { revision in
            [
                "\(revision.revision)\(String(revision.revision) == serving ? " (serving)" : "")", revision.version, revision.hash, revision.createdAt,
                revision.cause,
            ]
        }
    }
}

/// Why a rollback cannot be made.
public struct RollbackError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What `modelplane rollback` does to a deployment: the spec of the revision to go back to.
public enum RollbackPlan {
    public enum Result: Sendable, Equatable {
        /// The spec already is that revision's.
        case alreadyThere(ModelDeployment.Revision)
        /// The deployment with the revision's model and backend restored, and the change-cause
        /// annotations saying so.
        case rollBack(ModelDeployment, to: ModelDeployment.Revision)
    }

    /// Goes back to `toRevision`, or without it to the newest revision whose spec differs from the
    /// current one.
    public static func select(_ md: ModelDeployment, toRevision: Int64?) throws(RollbackError) -> Result {
        let name = md.metadata.name ?? ""
        let revisions = md.status?.revisions ?? []
        let current = md.spec.revisionHash
        let target: ModelDeployment.Revision
        if let toRevision {
            guard let found = revisions.first(where: { $0.revision == toRevision }) else {
                throw RollbackError(
                    "modeldeployment.modelplane.dev/\(name) has no revision \(toRevision); it has \(revisions.map { String($0.revision) }.joined(separator: ", "))"
                )
            }
            target = found
        } else {
            guard let previous = revisions.last(where: { $0.hash != current }) else {
                throw RollbackError("modeldeployment.modelplane.dev/\(name) has no earlier revision to go back to")
            }
            target = previous
        }
        if target.hash == current { return .alreadyThere(target) }
        struct Serving: Decodable {
            var model: ModelDeployment.Model
            var backend: ModelDeployment.Backend
        }
        guard let serving = try? JSONValueCoding.decode(Serving.self, from: target.spec) else {
            throw RollbackError("revision \(target.revision) of \(name) cannot be read back; edit the spec instead")
        }
        var rolled = md
        rolled.spec.model = serving.model
        rolled.spec.backend = serving.backend
        var annotations = rolled.metadata.annotations ?? [:]
        annotations[ModelDeployment.changeCauseAnnotation] = "rollback to revision \(target.revision)"
        annotations[ModelDeployment.changeCauseHashAnnotation] = target.hash
        rolled.metadata.annotations = annotations
        return .rollBack(rolled, to: target)
    }
}

/// Ready, Progressing and Degraded.
public enum Conditions {
    public typealias Value = (status: Condition.Status, reason: RolloutReason, message: String)

    /// Sets the given conditions; a condition's lastTransitionTime changes only when its status does.
    public static func set(
        _ status: inout ModelDeployment.Status, generation: Int64, now: Date, ready: Value?, progressing: Value?, degraded: Value?
    ) {
        var conditions = status.conditions ?? []
        // Formatted only when a condition changes status: a steady-state resync formats nothing.
        lazy var time = Timestamps.rfc3339(now)
        for (type, value) in [(ConditionType.ready, ready), (.progressing, progressing), (.degraded, degraded)] {
            guard let value else { continue }
            let message = summary(value.message)
            if let index = conditions.firstIndex(where: { $0.type == type.rawValue }) {
                let transition = conditions[index].status == value.status ? conditions[index].lastTransitionTime : time
                conditions[index] = Condition(
                    type: type.rawValue, status: value.status, observedGeneration: generation, lastTransitionTime: transition, reason: value.reason.rawValue,
                    message: message)
            } else {
                conditions.append(
                    Condition(
                        type: type.rawValue, status: value.status, observedGeneration: generation, lastTransitionTime: time, reason: value.reason.rawValue,
                        message: message))
            }
        }
        status.conditions = conditions
    }

    /// What a condition says of a message: its first non-blank line (a backend's own first line,
    /// without the traceback frames and blank lines that follow it), at most 1,024 characters,
    /// with a pointer to the rest. The whole text goes in the event and the log; `describe` and
    /// `kubectl get -o wide` show one clean line.
    public static func summary(_ message: String) -> String {
        // Most messages are one short line already (every status write sets three).
        let utf8 = message.utf8
        if utf8.count <= 1_024, !utf8.contains(where: { $0 == 10 || $0 == 13 }), utf8.first.map({ $0 > 32 }) ?? true, utf8.last.map({ $0 > 32 }) ?? true {
            return message
        }
        let lines = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard var first = lines.first else { return "" }
        var cut = lines.count > 1
        if first.count > 1_024 {
            first = String(first.prefix(1_024))
            cut = true
        }
        return cut ? first + " (more in the events)" : first
    }
}

/// Whether a rollout that failed may be tried again. A failure of the rollout itself (a version
/// that does not load, a smoke inference that fails) is not retried hot: not until the spec
/// changes (a new generation), or `recheckAfter` has passed since it failed.
public enum FailureGate {
    public static let recheckAfter: Duration = .seconds(300)

    /// The failure that still holds for `generation`, or nil when the rollout may go ahead.
    public static func blocked(_ status: ModelDeployment.Status, generation: Int64, now: Date) -> RolloutFailure? {
        guard let degraded = status.conditions?[.degraded], degraded.status == .true, let reason = RolloutReason(rawValue: degraded.reason),
            reason.gatesRetry, degraded.observedGeneration == generation
        else { return nil }
        if let since = try? Date(degraded.lastTransitionTime, strategy: .iso8601),
            now.timeIntervalSince(since) >= Double(recheckAfter.components.seconds)
        {
            return nil
        }
        return RolloutFailure(reason, degraded.message)
    }
}
