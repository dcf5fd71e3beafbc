public import AWS
import Foundation
import KubeClient
public import ModelplaneAPI

/// Where no SageMaker client was configured (tests that reconcile Triton only).
public struct UnconfiguredSageMaker: SageMakerAPI {
    public init() {}
    public func call(_ operation: String, _ input: JSONValue) async throws(AWSError) -> JSONValue {
        throw AWSError(.credentials, "this controller was started without SageMaker access")
    }
}

/// SageMaker real-time endpoints. Each reconcile observes the endpoint (one DescribeEndpoint
/// when it already serves this revision), asks `SageMakerPlanner` for the next step, executes
/// it, and repeats while steps finish at once (creating a model, a config, deleting old ones);
/// when SageMaker has work to do (Creating, Updating, …) it writes the status and requeues
/// after `sageMakerPoll` — a worker never waits on SageMaker.
extension DeploymentReconciler {
    func reconcile(_ original: ModelDeployment, sagemaker spec: ModelDeployment.SageMaker) async throws -> ReconcileResult {
        var md = original
        let key = ObjectKey(md.metadata)
        let generation = md.metadata.generation ?? 1
        let version = md.spec.model.version
        var status = md.status ?? ModelDeployment.Status()
        status.backend = "sagemaker"
        let revision = Self.recordRevision(&status, md, now: clock.date)
        let endpoint = SageMakerResources.endpointName(md)
        let name = SageMakerResources.name(md)
        let target = "sagemaker:\(spec.region)/\(endpoint)"

        func conflict(_ message: String) async throws -> ReconcileResult {
            setConditions(
                &status, generation: generation, ready: (.false, "Conflict", message), progressing: (.false, "Conflict", message),
                degraded: (.true, "Conflict", message))
            status.phase = .failed
            status.observedGeneration = generation
            let changed = original.status?.conditions?[type: "Degraded"]?.message != message
            try await write(&md, status)
            if changed { await events.record(md, type: .warning, reason: "Conflict", action: "Observe", note: message) }
            return .requeueAfter(.seconds(60))
        }

        if let owner = cache.objects(indexedBy: SageMakerClaims.key(region: spec.region, endpoint: endpoint)).first(where: { other in
            ObjectKey(other.metadata) != key && other.metadata.deletionTimestamp == nil
                && (other.metadata.creationTimestamp ?? "", other.metadata.name ?? "") < (md.metadata.creationTimestamp ?? "", md.metadata.name ?? "")
        }) {
            return try await conflict(
                "SageMaker endpoint \(endpoint) in \(spec.region) belongs to ModelDeployment \(ObjectKey(owner.metadata)); two deployments cannot serve one endpoint"
            )
        }

        // The endpoint moved (another name or region): what the old one runs is torn down first,
        // so nothing of ours is left behind. (Another API URL is the same SageMaker reached
        // another way, say through a VPC endpoint: nothing moves.)
        if let old = status.sagemaker, old.region != spec.region || old.endpoint != endpoint {
            try ensureLeading()
            let client = sagemaker(old.region, old.endpointURL)
            do {
                if let remaining = try await tearDown(old, client: client, md: md, revision: revision) {
                    status.sagemaker = remaining
                    status.phase = .progressing
                    status.observedGeneration = generation
                    setConditions(
                        &status, generation: generation, ready: nil,
                        progressing: (.true, "Moving", "deleting SageMaker endpoint \(old.endpoint) in \(old.region) before creating \(endpoint)"),
                        degraded: nil)
                    try await write(&md, status)
                    return .requeueAfter(sageMakerPoll)
                }
                status.sagemaker = nil
            } catch {
                return try await unavailable(original, &md, &status, generation: generation, error)
            }
        }

        var record = status.sagemaker ?? .init(region: spec.region, endpointURL: spec.endpointURL, endpoint: endpoint)
        record.endpointURL = spec.endpointURL
        let client = sagemaker(spec.region, spec.endpointURL)
        var notes: [Note] = []
        var failure: String?
        var failureReason = "EndpointFailed"
        var converged = false
        var waiting: String?
        var rollingBack: String?
        var observed: SageMakerObservation
        do {
            observed = try await client.observe(endpoint: endpoint, model: name, config: name)
            // An endpoint we have no record of: ours only if its owner tag names this deployment
            // (a restart that lost nothing but our memory); anything else is never touched.
            if status.sagemaker == nil, observed.endpointStatus != nil {
                let owner = try await observed.endpointArn.asyncMap { try await client.tag(SageMakerResources.ownerTag, of: $0) } ?? nil
                guard owner == SageMakerResources.owner(md) else {
                    return try await conflict(
                        "SageMaker endpoint \(endpoint) in \(spec.region) exists and is not managed by this ModelDeployment "
                            + (owner.map { "(its \(SageMakerResources.ownerTag) tag says \($0))" } ?? "(it has no \(SageMakerResources.ownerTag) tag)")
                            + "; choose another spec.backend.sagemaker.endpointName or delete it")
                }
                try appendAudit(md, revision, "adopt", target, ["config": observed.endpointConfigName.map(JSONValue.string) ?? .null], "ok")
                notes.append(
                    Note(type: .normal, reason: "Adopted", action: "Adopt", note: "SageMaker endpoint \(endpoint) already existed with this deployment's tag"))
            }
            if observed.modelExists, observed.configExists, !record.resources.contains(where: { $0.name == name }) {
                record.resources.append(.init(name: name, version: version))
            }
            // SageMaker working toward this revision: remembered even if the status write after
            // our CreateEndpoint/UpdateEndpoint was lost (a conflict, a crash), so a rollback is
            // still recognized as one.
            if observed.pendingConfigName == name || (observed.endpointStatus == "Creating" && observed.endpointConfigName == name) {
                record.pendingConfig = name
            }
            // An update we asked for that SageMaker is no longer doing, on an endpoint that still
            // serves the old config: rolled back (its alarms, or the new fleet failed).
            if observed.endpointStatus == "InService", observed.endpointConfigName != name, record.pendingConfig == name {
                record.pendingConfig = nil
                failure = "SageMaker rolled the update to \(name) back: \(observed.failureReason ?? "no reason given")"
                failureReason = "UpdateRolledBack"
                try appendAudit(md, revision, "update-rolled-back", target, ["config": .string(name)], observed.failureReason ?? "rolled back")
                notes.append(Note(type: .warning, reason: failureReason, action: "Rollout", note: failure!))
            }
            steps: for _ in 0..<8 {
                let input = SageMakerPlanInput(
                    endpoint: endpoint, name: name, instanceCount: spec.initialInstanceCount ?? ModelDeployment.Defaults.initialInstanceCount,
                    observed: observed, failedForThisGeneration: failure ?? failedLoad(status, generation: generation),
                    obsolete: SageMakerResources.obsolete(
                        record.resources, desired: name, serving: observed.endpointConfigName, pending: record.pendingConfig,
                        historyLimit: md.spec.revisionHistoryLimit))
                let step = SageMakerPlanner.next(input)
                switch step {
                case .converged, .wait, .failed, .blocked: break
                default: try ensureLeading()
                }
                switch step {
                case .converged:
                    converged = true
                    break steps
                case .createModel(let model):
                    try await act(client, md, revision, "CreateModel", SageMakerResources.createModel(md, name: model), target: model, existing: true)
                    observed.modelExists = true
                case .createEndpointConfig(let config):
                    try await act(
                        client, md, revision, "CreateEndpointConfig", SageMakerResources.createEndpointConfig(md, name: config, model: config),
                        target: config, existing: true)
                    observed.configExists = true
                    if !record.resources.contains(where: { $0.name == config }) { record.resources.append(.init(name: config, version: version)) }
                case .createEndpoint(let endpoint, let config):
                    do {
                        try await act(
                            client, md, revision, "CreateEndpoint", SageMakerResources.createEndpoint(md, endpoint: endpoint, config: config), target: target)
                    } catch let error as AWSError where error.isNotFound {
                        // SageMaker's eventual consistency: a config just created may not be
                        // visible to CreateEndpoint yet. Look again shortly.
                        waiting = "SageMaker does not see endpoint config \(config) yet; creating the endpoint again shortly"
                        break steps
                    }
                    record.pendingConfig = config
                    notes.append(
                        Note(type: .normal, reason: "Creating", action: "CreateEndpoint", note: "creating SageMaker endpoint \(endpoint) with \(config)"))
                    waiting = "SageMaker is creating endpoint \(endpoint) with version \(version)"
                    break steps
                case .updateEndpoint(let endpoint, let config):
                    try await act(
                        client, md, revision, "UpdateEndpoint", SageMakerResources.updateEndpoint(md, endpoint: endpoint, config: config), target: target)
                    record.pendingConfig = config
                    notes.append(
                        Note(type: .normal, reason: "Updating", action: "UpdateEndpoint", note: "moving SageMaker endpoint \(endpoint) to \(config)"))
                    waiting = "SageMaker is moving endpoint \(endpoint) to version \(version)"
                    break steps
                case .updateCapacity(let endpoint, let variant, let count):
                    try await act(
                        client, md, revision, "UpdateEndpointWeightsAndCapacities",
                        SageMakerResources.updateCapacity(endpoint: endpoint, variant: variant, count: count), target: target)
                    notes.append(
                        Note(type: .normal, reason: "Scaling", action: "UpdateEndpointWeightsAndCapacities", note: "\(endpoint) to \(count) instance(s)"))
                    waiting = "SageMaker is scaling endpoint \(endpoint) to \(count) instance(s)"
                    break steps
                case .deleteResources(let old):
                    try await deleteResources(old, client: client, md: md, revision: revision)
                    record.resources.removeAll { $0.name == old }
                case .wait(let endpointStatus):
                    waiting = "SageMaker endpoint \(endpoint) is \(endpointStatus)"
                    if endpointStatus == "RollingBack" {
                        // The update failed; SageMaker is going back to the old config.
                        rollingBack = "SageMaker is rolling endpoint \(endpoint) back: \(observed.failureReason ?? "no reason given yet")"
                    }
                    break steps
                case .deleteEndpoint(let endpoint):
                    try await act(client, md, revision, "DeleteEndpoint", ["EndpointName": .string(endpoint)], target: target)
                    record.pendingConfig = nil
                    notes.append(
                        Note(
                            type: .normal, reason: "Replacing", action: "DeleteEndpoint",
                            note: "endpoint \(endpoint) Failed on an older revision: deleting it to create it anew"))
                    waiting = "SageMaker is deleting the Failed endpoint \(endpoint) before creating it anew"
                    break steps
                case .failed(let endpointStatus, let reason):
                    record.pendingConfig = nil
                    failure = "SageMaker endpoint \(endpoint) is \(endpointStatus): \(reason)"
                    failureReason = endpointStatus == "Failed" ? "EndpointFailed" : "UpdateRollbackFailed"
                    if original.status?.conditions?[type: "Degraded"]?.message != failure {
                        notes.append(Note(type: .warning, reason: failureReason, action: "Observe", note: failure!))
                    }
                    break steps
                case .blocked(let reason):
                    failure = reason
                    if failureReason != "UpdateRolledBack" {
                        failureReason = status.conditions?[type: "Degraded"]?.reason ?? failureReason
                    }
                    break steps
                }
            }
        } catch let error as AWSError where !error.isRetryable && error.kind != .transport && error.kind != .credentials {
            // SageMaker refused a request (a ValidationException, a limit): retrying the same
            // request will not help; the spec or the account must change first.
            failure = "SageMaker refused: \(error)"
            failureReason = "InvalidRequest"
            notes.append(Note(type: .warning, reason: failureReason, action: "Act", note: failure!))
            observed = (try? await client.observe(endpoint: endpoint, model: name, config: name)) ?? .init(modelExists: false, configExists: false)
        } catch let error as AWSError {
            status.sagemaker = record.resources.isEmpty && status.sagemaker == nil ? nil : record
            return try await unavailable(original, &md, &status, generation: generation, error)
        }

        if converged { record.pendingConfig = nil }
        status.sagemaker = record
        // What serves: the config InService (or still serving while SageMaker updates).
        let servingStates: Set<String> = ["InService", "Updating", "SystemUpdating", "RollingBack"]
        let serving =
            observed.endpointStatus.map(servingStates.contains) == true
            ? observed.endpointConfigName.flatMap { config in record.resources.first { $0.name == config }?.version } : nil
        status.servingVersion = serving
        status.observedGeneration = generation
        if converged {
            markServing(
                &status, generation: generation, revision: revision,
                "version \(version) of \(md.spec.model.name) is serving on SageMaker endpoint \(endpoint)")
        } else if let failure {
            markFailed(&status, generation: generation, serving: serving, failure: failure, reason: failureReason)
        } else if let rollingBack {
            status.phase = .degraded
            if status.conditions?[type: "Degraded"]?.reason != "RollingBack" {
                notes.append(Note(type: .warning, reason: "RollingBack", action: "Rollout", note: rollingBack))
            }
            setConditions(
                &status, generation: generation, ready: serving.map { (.true, "ServingPrevious", "version \($0) keeps serving") },
                progressing: (.true, "RollingBack", waiting ?? rollingBack), degraded: (.true, "RollingBack", rollingBack))
        } else if let exceeded = deadlineExceeded(status, generation: generation, md: md) {
            // SageMaker is still at it (its own timeouts decide when it gives up); the user hears
            // that it is taking too long, and the controller keeps looking.
            let message = "version \(version) is not serving after progressDeadlineSeconds (\(exceeded)s): \(waiting ?? "still rolling out")"
            status.phase = serving == nil ? .failed : .degraded
            if status.conditions?[type: "Degraded"]?.reason != "ProgressDeadlineExceeded" {
                notes.append(Note(type: .warning, reason: "ProgressDeadlineExceeded", action: "Rollout", note: message))
            }
            setConditions(
                &status, generation: generation, ready: serving == nil ? (.false, "NotServing", "nothing is serving yet") : nil,
                progressing: (.false, "ProgressDeadlineExceeded", message), degraded: (.true, "ProgressDeadlineExceeded", message))
        } else {
            status.phase = .progressing
            setConditions(
                &status, generation: generation, ready: serving == nil ? (.false, "NotServing", "nothing is serving yet") : nil,
                progressing: (.true, "Deploying", waiting ?? "rolling out version \(version)"), degraded: nil)
        }
        // Moving from Triton: what it loaded goes once SageMaker serves.
        if converged, let old = status.triton {
            try ensureLeading()
            if try await releaseTriton(old, md: md, revision: revision) { status.triton = nil }
        }
        try await write(&md, status)
        if converged, original.status?.phase != .ready || original.status?.currentRevision != status.currentRevision {
            notes.append(
                Note(type: .normal, reason: "Serving", action: "Rollout", note: "version \(version) of \(md.spec.model.name) is serving on \(endpoint)"))
        }
        for note in notes { await events.record(md, type: note.type, reason: note.reason, action: note.action, note: note.note) }
        if converged { return .converged }
        if failure != nil { return .requeueAfter(Self.failedLoadRetry) }
        return .requeueAfter(waiting?.hasPrefix("SageMaker does not see") == true ? .seconds(2) : sageMakerPoll)
    }

    /// The deadline in seconds, when this generation's rollout (Progressing since its
    /// lastTransitionTime, or already past the deadline) has taken longer than it.
    private func deadlineExceeded(_ status: ModelDeployment.Status, generation: Int64, md: ModelDeployment) -> Int64? {
        let deadline = md.spec.rollout?.progressDeadlineSeconds ?? ModelDeployment.Defaults.progressDeadlineSeconds
        guard let progressing = status.conditions?[type: "Progressing"], progressing.observedGeneration == generation else { return nil }
        if progressing.reason == "ProgressDeadlineExceeded" { return deadline }
        guard progressing.status == .true, let since = Self.date(progressing.lastTransitionTime) else { return nil }
        return clock.date.timeIntervalSince(since) > Double(deadline) ? deadline : nil
    }

    /// SageMaker could not be reached, throttled past the client's retries, or no credentials:
    /// Degraded, and the controller's backoff.
    private func unavailable(
        _ original: ModelDeployment, _ md: inout ModelDeployment, _ status: inout ModelDeployment.Status, generation: Int64, _ error: any Error
    ) async throws -> ReconcileResult {
        let reason = (error as? AWSError)?.kind == .credentials ? "CredentialsUnavailable" : "BackendUnavailable"
        let message = "\(error)"
        setConditions(&status, generation: generation, ready: nil, progressing: nil, degraded: (.true, reason, message))
        status.phase = .degraded
        try await write(&md, status)
        if original.status?.conditions?[type: "Degraded"]?.reason != reason {
            await events.record(md, type: .warning, reason: reason, action: "Observe", note: message)
        }
        throw ReconcileError.transient(message)
    }

    /// One SageMaker call, audited. `existing`: SageMaker saying the resource already exists
    /// counts as done (a crash between the call and the status write).
    private func act(
        _ client: any SageMakerAPI, _ md: ModelDeployment, _ revision: Int64?, _ operation: String, _ input: JSONValue, target: String,
        existing: Bool = false
    ) async throws {
        do {
            _ = try await client.call(operation, input)
            try appendAudit(md, revision, operation, target, nil, "ok")
        } catch let error as AWSError where existing && error.code == "ValidationException" && error.message.contains("already exist") {
            try appendAudit(md, revision, operation, target, nil, "already existed")
        } catch let error as AWSError {
            try appendAudit(md, revision, operation, target, nil, "failed: \(error.code ?? "\(error.kind)")")
            throw error
        }
    }

    /// Deletes the endpoint config and model named `name` (either may be gone already).
    private func deleteResources(_ name: String, client: any SageMakerAPI, md: ModelDeployment, revision: Int64?) async throws {
        for (operation, field) in [("DeleteEndpointConfig", "EndpointConfigName"), ("DeleteModel", "ModelName")] {
            let existed = try await client.delete(operation, [field: .string(name)])
            try appendAudit(md, revision, operation, name, nil, existed ? "ok" : "already gone")
        }
    }

    /// Deletes what `record` says we created: the endpoint (waiting, by requeue, until SageMaker
    /// has deleted it), then every config and model. Returns what is left, nil when all is gone.
    func tearDown(_ record: ModelDeployment.SageMakerRecord, client: any SageMakerAPI, md: ModelDeployment, revision: Int64?) async throws
        -> ModelDeployment.SageMakerRecord?
    {
        let target = "sagemaker:\(record.region)/\(record.endpoint)"
        if let endpoint = try await client.describe("DescribeEndpoint", ["EndpointName": .string(record.endpoint)]) {
            let endpointStatus = endpoint["EndpointStatus"]?.stringValue ?? ""
            if endpointStatus != "Deleting" {
                try ensureLeading()
                do {
                    _ = try await client.call("DeleteEndpoint", ["EndpointName": .string(record.endpoint)])
                    try appendAudit(md, revision, "DeleteEndpoint", target, nil, "ok")
                    await events.record(md, type: .normal, reason: "Deleting", action: "DeleteEndpoint", note: "deleting SageMaker endpoint \(record.endpoint)")
                } catch let error as AWSError where error.isNotFound {
                    // Gone meanwhile.
                } catch let error as AWSError where error.code == "ValidationException" {
                    // Busy (Creating, Updating): SageMaker deletes only settled endpoints; try again.
                    try appendAudit(md, revision, "DeleteEndpoint", target, nil, "deferred: \(error.message)")
                    return record
                }
            }
            return record
        }
        var remaining = record
        for resource in record.resources {
            try ensureLeading()
            try await deleteResources(resource.name, client: client, md: md, revision: revision)
            remaining.resources.removeAll { $0 == resource }
        }
        await events.record(
            md, type: .normal, reason: "Deleted", action: "DeleteEndpoint",
            note: "deleted SageMaker endpoint \(record.endpoint), its configs and models")
        return nil
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        switch self {
        case .some(let value): try await transform(value)
        case .none: nil
        }
    }
}
