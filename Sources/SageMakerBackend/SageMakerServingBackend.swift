public import AWS
import Foundation
public import ModelplaneAPI
public import Rollout

/// What a deployment asks of SageMaker.
public struct SageMakerDesired: Sendable, Hashable {
    public var region: String
    public var endpointURL: String?
    public var endpoint: String
    /// This revision's Model and EndpointConfig name.
    public var name: String
    public var version: String
    public var instanceCount: Int64

    var fresh: ModelDeployment.SageMakerRecord { .init(region: region, endpointURL: endpointURL, endpoint: endpoint) }
    var target: String { SageMakerServingBackend.target(region: region, endpoint: endpoint) }
}

/// The endpoint as SageMaker has it, and, for an endpoint we have no record of, its owner tag.
public struct SageMakerView: Sendable, Hashable {
    public var endpoint: SageMakerObservation
    /// The owner tag of an endpoint we have no record of (nil: no tag, or not looked up).
    public var ownerTag: String?

    public init(endpoint: SageMakerObservation, ownerTag: String? = nil) {
        self.endpoint = endpoint
        self.ownerTag = ownerTag
    }
}

/// One action on SageMaker.
public enum SageMakerAction: BackendAction {
    /// An endpoint we have no record of carries this deployment's owner tag: ours (a restart
    /// that lost nothing but the status).
    case adopt(config: String?)
    /// Record what SageMaker shows of ours (a model and config made before a lost status write,
    /// the update SageMaker is working toward).
    case remember(ModelDeployment.SageMakerRecord)
    /// The update we asked for is no longer under way and the endpoint serves the old config:
    /// SageMaker rolled it back (its alarms, or the new fleet failed).
    case noteRolledBack(config: String, reason: String?)
    case createModel(String)
    case createEndpointConfig(String)
    case createEndpoint(endpoint: String, config: String)
    /// Move an InService endpoint to this revision's config; `deploymentConfig` for BlueGreen.
    case updateEndpoint(endpoint: String, config: String, deploymentConfig: JSONValue?)
    case updateCapacity(endpoint: String, variant: String, count: Int64)
    /// A model and endpoint config of ours beyond the revision history, serving nothing.
    case deleteResources(String)
    /// A Failed endpoint on an older config cannot be updated: delete it, then create it anew.
    case deleteEndpoint(String)
    /// A canary's endpoint config, one weighted variant per version.
    case createSplitConfig(String, variants: [SplitVariant], shadow: SplitVariant?)
    /// The shadow version's own Model (from `spec.shadow.uri`).
    case createShadowModel(String, version: String)
    /// A shadow version's Model no config uses any more.
    case deleteShadowModel(String)
    /// The canary's variants to these weights.
    case updateWeights(endpoint: String, weights: [VariantWeight], count: Int64)
    /// A canary's endpoint config nothing uses any more.
    case deleteSplitConfig(String)

    public var changesBackend: Bool {
        switch self {
        case .adopt, .remember, .noteRolledBack: false
        default: true
        }
    }

    public var preview: String? {
        switch self {
        case .adopt: "adopt the endpoint (it carries this deployment's owner tag)"
        case .remember, .noteRolledBack: nil
        case .createModel(let name): SageMakerStep.createModel(name).description
        case .createEndpointConfig(let name): SageMakerStep.createEndpointConfig(name).description
        case .createEndpoint(let endpoint, let config): SageMakerStep.createEndpoint(endpoint: endpoint, config: config).description
        case .updateEndpoint(let endpoint, let config, let deployment):
            SageMakerStep.updateEndpoint(endpoint: endpoint, config: config).description
                + (deployment.map { "\n  with DeploymentConfig \($0.canonicalText)" } ?? "")
        case .updateCapacity(let endpoint, let variant, let count):
            SageMakerStep.updateCapacity(endpoint: endpoint, variant: variant, count: count).description
        case .deleteResources(let name): SageMakerStep.deleteResources(name).description
        case .deleteEndpoint(let name): SageMakerStep.deleteEndpoint(name).description
        case .createSplitConfig(let name, let variants, let shadow):
            SageMakerStep.createSplitConfig(name).description + ": "
                + variants.map { "\($0.variant) (version \($0.version), \(Int64($0.weight.rounded())) %)" }.joined(separator: ", ")
                + (shadow.map { ", shadow \($0.variant) (version \($0.version), \(Int64(($0.weight * 100).rounded())) % of requests copied)" } ?? "")
        case .createShadowModel(let name, _): SageMakerStep.createShadowModel(name).description
        case .deleteShadowModel(let name): SageMakerStep.deleteShadowModel(name).description
        case .updateWeights(let endpoint, let weights, let count):
            SageMakerStep.updateWeights(endpoint: endpoint, weights: weights, count: count).description
        case .deleteSplitConfig(let name): SageMakerStep.deleteSplitConfig(name).description
        }
    }

    public var description: String {
        switch self {
        case .remember: "record what SageMaker has"
        case .noteRolledBack(let config, _): "note that SageMaker rolled the update to \(config) back"
        default: preview ?? ""
        }
    }
}

/// SageMaker real-time endpoints behind the seam. Steps that finish at once (creating a model,
/// a config, deleting old ones) follow each other in one pass; when SageMaker has work to do
/// (Creating, Updating, …) the pass ends and looks again after `pollInterval`: a worker never
/// waits on SageMaker.
public struct SageMakerServingBackend: ServingBackend {
    public static let id = BackendID.sagemaker
    /// SageMaker's control plane for a region, through an API URL (nil: the SDKs' default).
    let client: @Sendable (_ region: String, _ endpointURL: String?) -> any SageMakerAPI
    public let pollInterval: Duration

    public init(client: @escaping @Sendable (_ region: String, _ endpointURL: String?) -> any SageMakerAPI, pollInterval: Duration = .seconds(15)) {
        self.client = client
        self.pollInterval = pollInterval
    }

    // MARK: - Pure

    public static func desired(_ md: ModelDeployment) -> SageMakerDesired? {
        md.spec.backend.sagemaker.map { spec in
            SageMakerDesired(
                region: spec.region, endpointURL: spec.endpointURL, endpoint: SageMakerResources.endpointName(md), name: SageMakerResources.name(md),
                version: md.spec.model.version, instanceCount: spec.initialInstanceCount ?? ModelDeployment.Defaults.initialInstanceCount)
        }
    }

    public static func record(in status: ModelDeployment.Status) -> ModelDeployment.SageMakerRecord? { status.sagemaker }
    public static func store(_ record: ModelDeployment.SageMakerRecord?, in status: inout ModelDeployment.Status) { status.sagemaker = record }

    public static func claims(_ desired: SageMakerDesired) -> [Claim] { [claim(region: desired.region, endpoint: desired.endpoint)] }
    public static func claims(_ record: ModelDeployment.SageMakerRecord) -> [Claim] { [claim(region: record.region, endpoint: record.endpoint)] }

    /// An endpoint as the audit trail and the claims index name it.
    static func target(region: String, endpoint: String) -> String { "sagemaker:\(region)/\(endpoint)" }

    static func claim(region: String, endpoint: String) -> Claim {
        Claim(key: target(region: region, endpoint: endpoint), subject: "SageMaker endpoint \(endpoint) in \(region)", unit: "one endpoint")
    }

    /// The endpoint moved (another name or region): what the old one runs is torn down first, so
    /// nothing of ours is left behind. Another API URL is the same SageMaker reached another way
    /// (a VPC endpoint): nothing moves.
    public static func releasesFirst(_ record: ModelDeployment.SageMakerRecord, for desired: SageMakerDesired) -> Bool {
        record.region != desired.region || record.endpoint != desired.endpoint
    }

    /// The config InService (or still serving while SageMaker updates).
    public static func servingVersion(_ view: SageMakerView, record: ModelDeployment.SageMakerRecord?) -> String? {
        guard view.endpoint.endpointStatus?.serves == true else { return nil }
        return view.endpoint.endpointConfigName.flatMap { config in
            (record?.resources.first { $0.name == config } ?? record?.shadowConfigs?.first { $0.name == config })?.version
        }
    }

    /// Every version with a production variant on the endpoint while it serves: the one variant of
    /// a revision's own config, or each variant of a canary's (named after its version).
    public static func readyVersions(_ view: SageMakerView, record: ModelDeployment.SageMakerRecord?) -> Set<String> {
        var ready = Set(servingVersion(view, record: record).map { [$0] } ?? [])
        guard view.endpoint.endpointStatus?.serves == true else { return ready }
        let versions = Set((record?.resources ?? []).map(\.version) + (record?.shadowModels ?? []).map(\.version))
        for name in view.endpoint.variants.map(\.name) + view.endpoint.shadowVariants {
            if let version = versions.first(where: { ModelDeployment.SageMaker.variantName(version: $0) == name }) { ready.insert(version) }
        }
        return ready
    }

    /// What the endpoint must run for the placement: `name`, the revision config whose model and
    /// config must exist (the spec's, or the stable version's own after an abort), and while a
    /// canary runs the split config of the stable version's variant and the canary's, weighted.
    struct Layout {
        var name: String
        var known: Bool
        /// The variant of the version that goes on serving through a move off a canary's config.
        var keep: String
        /// A config of several variants: a canary's (weighted production variants), or the serving
        /// version's with a shadow variant (SageMaker allows one beside a single production variant).
        var split: (config: String, variants: [SplitVariant], shadow: SplitVariant?)?
        /// The shadow's Model, when the record does not have it yet.
        var shadowModel: String?
    }

    static func layout(_ input: PlanInput<Self>, record: ModelDeployment.SageMakerRecord) -> Laid {
        let desired = input.desired
        let placement = input.placement
        // A version's own config: the spec's, else the one the endpoint serves when it is that
        // version's (a later revision of the same version may have been rolled back), else the newest.
        let serving = input.observation.endpoint.endpointConfigName
        func own(_ version: String) -> String? {
            if version == desired.version { return desired.name }
            if let serving, record.resources.contains(where: { $0.name == serving && $0.version == version }) { return serving }
            return record.resources.last { $0.version == version }?.name
        }
        guard let serve = own(placement.serve) else {
            return .refused(
                RolloutFailure(
                    .invalidRequest,
                    "version \(placement.serve) has no SageMaker model of this deployment's (status.sagemaker.resources): it cannot be served again"))
        }
        var layout = Layout(name: serve, known: serve != desired.name, keep: ModelDeployment.SageMaker.variantName(version: placement.serve))
        if let stableVersion = placement.stable, stableVersion != placement.serve {
            guard let stable = own(stableVersion) else {
                return .refused(
                    RolloutFailure(
                        .invalidRequest,
                        "stable version \(stableVersion) has no SageMaker model of this deployment's (status.sagemaker.resources) to keep beside the canary"))
            }
            let weight = Double(min(max(placement.weight ?? 0, 0), 100))
            let variants = [
                SplitVariant(
                    variant: ModelDeployment.SageMaker.variantName(version: stableVersion), model: stable, version: stableVersion, weight: 100 - weight),
                SplitVariant(variant: ModelDeployment.SageMaker.variantName(version: placement.serve), model: serve, version: placement.serve, weight: weight),
            ]
            layout.split = (SageMakerResources.splitName(deployment: input.deployment.metadata.name ?? "", models: [stable, serve]), variants, nil)
            layout.keep = ModelDeployment.SageMaker.variantName(version: stableVersion)
        } else if let shadowVersion = placement.shadow, shadowVersion != placement.serve, let copy = SageMakerResources.shadowDeployment(input.deployment),
            readyVersions(input.observation, record: record).contains(placement.serve)
        {
            // The serving version's variant with the shadow's beside it; SageMaker copies the share
            // of requests the shadow's weight is of the production variant's. Only once the serving
            // version serves: a shadow that fails never holds a rollout up.
            let model = SageMakerResources.name(copy)
            let percent = min(max(input.deployment.spec.shadow?.percent ?? 100, 1), 100)
            // The production variant keeps the name a revision's own config gives it, so a move
            // between the two is an ordinary update (BlueGreen's guardrails require as much).
            let production = SplitVariant(variant: SageMakerResources.variant, model: serve, version: placement.serve, weight: 1)
            let shadow = SplitVariant(
                variant: ModelDeployment.SageMaker.variantName(version: shadowVersion), model: model, version: shadowVersion, weight: Double(percent) / 100)
            let config = SageMakerResources.splitName(deployment: input.deployment.metadata.name ?? "", models: [serve, "shadow", model, String(percent)])
            layout.split = (config, [production], shadow)
            if !(record.shadowModels ?? []).contains(where: { $0.name == model }) { layout.shadowModel = model }
        }
        return .laid(layout)
    }

    enum Laid {
        case laid(Layout)
        /// The placement names a version this deployment has no model for.
        case refused(RolloutFailure)
    }

    public static func plan(_ input: PlanInput<Self>) -> BackendPlan<SageMakerAction> {
        let desired = input.desired
        let observed = input.observation.endpoint
        let md = input.deployment
        // An endpoint we have no record of: ours only if its owner tag names this deployment;
        // anything else is never touched.
        if input.record == nil, observed.endpointStatus != nil {
            let owner = input.observation.ownerTag
            guard owner == SageMakerResources.owner(md) else {
                return .conflict(
                    "SageMaker endpoint \(desired.endpoint) in \(desired.region) exists and is not managed by this ModelDeployment "
                        + (owner.map { "(its \(SageMakerResources.ownerTag) tag says \($0))" } ?? "(it has no \(SageMakerResources.ownerTag) tag)")
                        + "; choose another spec.backend.sagemaker.endpointName or delete it")
            }
            return .act(.adopt(config: observed.endpointConfigName))
        }
        let layout: Layout
        switch Self.layout(input, record: input.record ?? desired.fresh) {
        case .laid(let found): layout = found
        case .refused(let failure): return .failed(failure)
        }
        let config = layout.split?.config ?? layout.name
        if let record = input.record, observed.endpointStatus == .inService, observed.endpointConfigName != config, record.pendingConfig == config {
            return .act(.noteRolledBack(config: config, reason: observed.failureReason))
        }
        let settled = settle(input.record, observed, desired, config: config)
        if settled != input.record, let settled { return .act(.remember(settled)) }
        let record = settled ?? desired.fresh
        let splits = record.splitConfigs ?? []
        // Configs of several variants: a canary's, and a serving version's with a shadow.
        let several = splits + (record.shadowConfigs ?? []).map(\.name)
        let shadowModel = layout.split?.shadow?.model
        let step = SageMakerPlanner.next(
            SageMakerPlanInput(
                endpoint: desired.endpoint, name: layout.name, instanceCount: desired.instanceCount, observed: observed,
                failedForThisGeneration: input.blocked?.message,
                obsolete: SageMakerResources.obsolete(
                    record.resources, desired: desired.name, serving: observed.endpointConfigName, pending: record.pendingConfig,
                    historyLimit: md.spec.revisionHistoryLimit,
                    keep: Set((layout.split?.variants.map(\.model) ?? [layout.name]) + (layout.split?.shadow.map { [$0.model] } ?? []))),
                known: layout.known,
                split: layout.split.map { split in
                    .init(config: split.config, exists: several.contains(split.config), weights: split.variants.map { VariantWeight($0.variant, $0.weight) })
                },
                obsoleteSplits: several.filter { $0 != config && $0 != observed.endpointConfigName && $0 != record.pendingConfig },
                drainTo: observed.endpointConfigName.map(splits.contains) == true ? layout.keep : nil, shadowModel: layout.shadowModel,
                // (Once no config of a shadow is left but the one in use, so the model is never pulled from under one.)
                obsoleteShadowModels: several.contains { $0 != config } ? [] : (record.shadowModels ?? []).map(\.name).filter { $0 != shadowModel }))
        switch step {
        case .converged:
            if let split = layout.split, let shadow = split.shadow {
                return .converged(
                    "version \(split.variants.first?.version ?? desired.version) of \(md.spec.model.name) is serving on SageMaker endpoint \(desired.endpoint), "
                        + "shadow version \(shadow.version) receiving a copy of \(Int64((shadow.weight * 100).rounded())) % of requests")
            }
            if let split = layout.split {
                return .converged(
                    "SageMaker endpoint \(desired.endpoint) serves "
                        + split.variants.map { "version \($0.version) at \(Int64($0.weight.rounded())) %" }.joined(separator: " and "))
            }
            let version = record.resources.first { $0.name == layout.name }?.version ?? desired.version
            return .converged("version \(version) of \(md.spec.model.name) is serving on SageMaker endpoint \(desired.endpoint)")
        case .wait(.rollingBack):
            return .rollingBack("SageMaker is rolling endpoint \(desired.endpoint) back: \(observed.failureReason ?? "no reason given yet")")
        case .wait(let status): return .waiting("SageMaker endpoint \(desired.endpoint) is \(status)")
        case .failed(let status, let reason):
            return .failed(
                RolloutFailure(status == .failed ? .endpointFailed : .updateRollbackFailed, "SageMaker endpoint \(desired.endpoint) is \(status): \(reason)"))
        case .blocked(let reason): return .blocked(input.blocked ?? RolloutFailure(.endpointFailed, reason))
        case .createModel(let name): return .act(.createModel(name))
        case .createEndpointConfig(let name): return .act(.createEndpointConfig(name))
        case .createEndpoint(let endpoint, let config): return .act(.createEndpoint(endpoint: endpoint, config: config))
        case .updateEndpoint(let endpoint, let config):
            // BlueGreen's DeploymentConfig between a revision's own configs only: a move to or from a
            // config of several variants is a plain update.
            let own = { (name: String?) in name.map { name in record.resources.contains { $0.name == name } } ?? true }
            let deployment = own(config) && own(observed.endpointConfigName) ? SageMakerResources.deploymentConfig(md) : nil
            return .act(.updateEndpoint(endpoint: endpoint, config: config, deploymentConfig: deployment))
        case .updateCapacity(let endpoint, let variant, let count): return .act(.updateCapacity(endpoint: endpoint, variant: variant, count: count))
        case .deleteResources(let name): return .act(.deleteResources(name))
        case .deleteEndpoint(let name): return .act(.deleteEndpoint(name))
        case .createSplitConfig(let name): return .act(.createSplitConfig(name, variants: layout.split?.variants ?? [], shadow: layout.split?.shadow))
        case .createShadowModel(let name): return .act(.createShadowModel(name, version: layout.split?.shadow?.version ?? ""))
        case .deleteShadowModel(let name): return .act(.deleteShadowModel(name))
        case .updateWeights(let endpoint, let weights, let count): return .act(.updateWeights(endpoint: endpoint, weights: weights, count: count))
        case .deleteSplitConfig(let name): return .act(.deleteSplitConfig(name))
        }
    }

    /// The record as what SageMaker shows makes it: our model and config of this revision (made
    /// before a lost status write), the config SageMaker works toward (remembered even if the
    /// status write after CreateEndpoint/UpdateEndpoint was lost, so a rollback is still
    /// recognized as one), and no pending config once it serves or failed.
    static func settle(
        _ record: ModelDeployment.SageMakerRecord?, _ observed: SageMakerObservation, _ desired: SageMakerDesired, config: String? = nil
    ) -> ModelDeployment.SageMakerRecord? {
        let config = config ?? desired.name
        var settled = record ?? desired.fresh
        settled.endpointURL = desired.endpointURL
        if observed.modelExists, observed.configExists, !settled.resources.contains(where: { $0.name == desired.name }) {
            settled.resources.append(.init(name: desired.name, version: desired.version))
        }
        // (An endpoint InService has no update under way, whatever a stale summary says: that
        // would undo the rolled-back detection above.)
        if (observed.pendingConfigName == config && observed.endpointStatus != .inService)
            || (observed.endpointStatus == .creating && observed.endpointConfigName == config)
        {
            settled.pendingConfig = config
        }
        if observed.endpointStatus == .failed || observed.endpointStatus == .updateRollbackFailed
            || (observed.endpointStatus == .inService && observed.endpointConfigName == config)
        {
            settled.pendingConfig = nil
        }
        return record == nil && settled == desired.fresh ? nil : settled
    }

    public static func predicted(_ action: SageMakerAction, _ input: PlanInput<Self>) -> StepResult<Self>? {
        var view = input.observation
        var record = input.record ?? input.desired.fresh
        switch action {
        case .adopt: return StepResult(view, record: input.desired.fresh)
        case .remember(let settled): return StepResult(view, record: settled)
        case .noteRolledBack(let config, let reason):
            record.pendingConfig = nil
            return StepResult(view, record: record, .setback(rolledBack(config, reason)))
        case .createModel:
            view.endpoint.modelExists = true
            return StepResult(view, record: input.record)
        case .createEndpointConfig(let config):
            view.endpoint.configExists = true
            if !record.resources.contains(where: { $0.name == config }) { record.resources.append(.init(name: config, version: input.desired.version)) }
            return StepResult(view, record: record)
        case .deleteResources(let name):
            record.resources.removeAll { $0.name == name }
            return StepResult(view, record: record)
        case .createShadowModel(let name, let version):
            record.noteShadowModel(name, version: version)
            return StepResult(view, record: record)
        case .deleteShadowModel(let name):
            record.forgetShadowModel(name)
            return StepResult(view, record: record)
        case .createSplitConfig(let name, let variants, let shadow):
            record.noteConfig(name, serving: variants.first?.version ?? "", shadow: shadow != nil)
            return StepResult(view, record: record)
        case .deleteSplitConfig(let name):
            record.forgetConfig(name)
            return StepResult(view, record: record)
        case .createEndpoint, .updateEndpoint, .updateCapacity, .deleteEndpoint, .updateWeights: return nil
        }
    }

    static func rolledBack(_ config: String, _ reason: String?) -> RolloutFailure {
        RolloutFailure(.updateRolledBack, "SageMaker rolled the update to \(config) back: \(reason ?? "no reason given")")
    }

    // MARK: - I/O

    public func observe(
        _ desired: SageMakerDesired, record: ModelDeployment.SageMakerRecord?, deployment: ModelDeployment
    ) async throws(BackendError) -> SageMakerView {
        let client = client(desired.region, desired.endpointURL)
        do {
            let observed = try await client.observe(endpoint: desired.endpoint, model: desired.name, config: desired.name)
            var owner: String?
            if record == nil, let arn = observed.endpointArn { owner = try await client.tag(SageMakerResources.ownerTag, of: arn) }
            return SageMakerView(endpoint: observed, ownerTag: owner)
        } catch {
            throw Self.unavailable(error)
        }
    }

    /// Why SageMaker could not be asked. A request it refused (AccessDenied, a validation
    /// error) is `InvalidRequest`, which the failure gate holds until the spec changes: retrying
    /// the same request will not help.
    static func unavailable(_ error: AWSError) -> BackendError {
        if !error.isRetryable, error.kind != .transport, error.kind != .credentials {
            return BackendError(.invalidRequest, "SageMaker refused: \(error)")
        }
        return BackendError(error.kind == .credentials ? .credentialsUnavailable : .backendUnavailable, "\(error)")
    }

    public func execute(_ action: SageMakerAction, _ input: PlanInput<Self>, _ context: ActionContext) async throws -> StepResult<Self> {
        let client = client(input.desired.region, input.desired.endpointURL)
        do {
            return try await run(action, input, client, context)
        } catch let error as AWSError where !error.isRetryable && error.kind != .transport && error.kind != .credentials {
            // SageMaker refused a request (a ValidationException, a limit): retrying the same
            // request will not help; the spec or the account must change first.
            let failure = RolloutFailure(.invalidRequest, "SageMaker refused: \(error)")
            let desired = input.desired
            let observed =
                (try? await client.observe(endpoint: desired.endpoint, model: desired.name, config: desired.name))
                ?? .init(modelExists: false, configExists: false)
            return StepResult(
                SageMakerView(endpoint: observed, ownerTag: input.observation.ownerTag), record: input.record,
                notes: [.warning(.invalidRequest, action: "Act", failure.message)], .failed(failure))
        } catch let error as AWSError {
            throw Self.unavailable(error)
        }
    }

    private func run(_ action: SageMakerAction, _ input: PlanInput<Self>, _ client: any SageMakerAPI, _ context: ActionContext) async throws
        -> StepResult<Self>
    {
        let md = context.deployment
        let desired = input.desired
        let version = desired.version
        var view = input.observation
        var record = input.record ?? desired.fresh
        switch action {
        case .adopt(let config):
            try context.audit(AuditEntry("adopt", desired.target, detail: ["config": config.map(JSONValue.string) ?? .null], .ok))
            return StepResult(
                view, record: desired.fresh,
                notes: [.normal(.adopted, action: "Adopt", "SageMaker endpoint \(desired.endpoint) already existed with this deployment's tag")])
        case .remember(let settled):
            return StepResult(view, record: settled)
        case .noteRolledBack(let config, let reason):
            record.pendingConfig = nil
            let failure = Self.rolledBack(config, reason)
            try context.audit(AuditEntry("update-rolled-back", desired.target, detail: ["config": .string(config)], .reported(reason ?? "rolled back")))
            return StepResult(view, record: record, notes: [.warning(.updateRolledBack, action: "Rollout", failure.message)], .setback(failure))
        case .createModel(let model):
            try await act(client, .createModel, SageMakerResources.createModel(md, name: model), target: model, context, existing: true)
            view.endpoint.modelExists = true
            return StepResult(view, record: input.record)
        case .createEndpointConfig(let config):
            try await act(
                client, .createEndpointConfig, SageMakerResources.createEndpointConfig(md, name: config, model: config), target: config, context,
                existing: true)
            view.endpoint.configExists = true
            if !record.resources.contains(where: { $0.name == config }) { record.resources.append(.init(name: config, version: version)) }
            return StepResult(view, record: record)
        case .createEndpoint(let endpoint, let config):
            do {
                try await act(
                    client, .createEndpoint, SageMakerResources.createEndpoint(md, endpoint: endpoint, config: config), target: desired.target, context)
            } catch let error as AWSError where error.isNotFound {
                // SageMaker's eventual consistency: a config just created may not be visible to
                // CreateEndpoint yet. Look again shortly.
                return StepResult(
                    view, record: input.record,
                    .notYetVisible("SageMaker does not see endpoint config \(config) yet; creating the endpoint again shortly", retryAfter: .seconds(2)))
            }
            record.pendingConfig = config
            return StepResult(
                view, record: record, notes: [.normal(.creating, action: "CreateEndpoint", "creating SageMaker endpoint \(endpoint) with \(config)")],
                .started("SageMaker is creating endpoint \(endpoint) with version \(version)"))
        case .updateEndpoint(let endpoint, let config, let deployment):
            // The DeploymentConfig the plan chose (BlueGreen's, between a revision's own configs).
            var body = SageMakerResources.updateEndpoint(endpoint: endpoint, config: config)
            if let deployment { body["DeploymentConfig"] = deployment }
            try await act(client, .updateEndpoint, body, target: desired.target, context)
            record.pendingConfig = config
            // What the config serves: a revision's version, or a canary's two.
            let serves =
                record.resources.first { $0.name == config }.map { "version \($0.version)" }
                ?? "the canary's config \(config) (\(input.placement.stable.map { "stable \($0), " } ?? "")canary \(input.placement.serve))"
            return StepResult(
                view, record: record, notes: [.normal(.updating, action: "UpdateEndpoint", "moving SageMaker endpoint \(endpoint) to \(config)")],
                .started("SageMaker is moving endpoint \(endpoint) to \(serves)"))
        case .updateCapacity(let endpoint, let variant, let count):
            try await act(
                client, .updateEndpointWeightsAndCapacities, SageMakerResources.updateCapacity(endpoint: endpoint, variant: variant, count: count),
                target: desired.target, context)
            return StepResult(
                view, record: input.record,
                notes: [.normal(.scaling, action: "UpdateEndpointWeightsAndCapacities", "\(endpoint) to \(count) instance(s)")],
                .started("SageMaker is scaling endpoint \(endpoint) to \(count) instance(s)"))
        case .deleteResources(let old):
            try await deleteResources(old, client: client, context)
            record.resources.removeAll { $0.name == old }
            return StepResult(view, record: record)
        case .createShadowModel(let model, let version):
            guard let shadow = SageMakerResources.shadowDeployment(md) else { return StepResult(view, record: input.record) }
            try await act(client, .createModel, SageMakerResources.createModel(shadow, name: model), target: model, context, existing: true)
            record.noteShadowModel(model, version: version)
            return StepResult(view, record: record)
        case .deleteShadowModel(let model):
            let existed = try await client.delete(.deleteModel, ["ModelName": .string(model)])
            try context.audit(AuditEntry(SageMakerOperation.deleteModel.rawValue, model, existed ? .ok : .alreadyGone))
            record.forgetShadowModel(model)
            return StepResult(view, record: record)
        case .createSplitConfig(let config, let variants, let shadow):
            try await act(
                client, .createEndpointConfig, SageMakerResources.createSplitConfig(md, name: config, variants: variants, shadow: shadow), target: config,
                context,
                existing: true)
            record.noteConfig(config, serving: variants.first?.version ?? "", shadow: shadow != nil)
            return StepResult(view, record: record)
        case .updateWeights(let endpoint, let weights, let count):
            try await act(
                client, .updateEndpointWeightsAndCapacities, SageMakerResources.updateWeights(endpoint: endpoint, weights: weights, count: count),
                target: desired.target, context)
            let split = weights.map { "\($0.variant) \(Int64($0.weight.rounded())) %" }.joined(separator: ", ")
            return StepResult(
                view, record: input.record, notes: [.normal(.canaryWeight, action: "UpdateEndpointWeightsAndCapacities", "\(endpoint): \(split)")],
                .started("SageMaker is moving endpoint \(endpoint)'s variant weights to \(split)"))
        case .deleteSplitConfig(let config):
            let existed = try await client.delete(.deleteEndpointConfig, ["EndpointConfigName": .string(config)])
            try context.audit(AuditEntry(SageMakerOperation.deleteEndpointConfig.rawValue, config, existed ? .ok : .alreadyGone))
            record.forgetConfig(config)
            return StepResult(view, record: record)
        case .deleteEndpoint(let endpoint):
            try await act(client, .deleteEndpoint, ["EndpointName": .string(endpoint)], target: desired.target, context)
            record.pendingConfig = nil
            return StepResult(
                view, record: record,
                notes: [.normal(.replacing, action: "DeleteEndpoint", "endpoint \(endpoint) Failed on an older revision: deleting it to create it anew")],
                .started("SageMaker is deleting the Failed endpoint \(endpoint) before creating it anew"))
        }
    }

    /// One SageMaker call, audited. `existing`: SageMaker saying the resource already exists
    /// counts as done (a crash between the call and the status write).
    private func act(
        _ client: any SageMakerAPI, _ operation: SageMakerOperation, _ input: JSONValue, target: String, _ context: ActionContext,
        existing: Bool = false
    ) async throws {
        do {
            _ = try await client.call(operation, input)
            try context.audit(AuditEntry(operation.rawValue, target, .ok))
        } catch let error as AWSError where existing && error.code == "ValidationException" && error.message.contains("already exist") {
            try context.audit(AuditEntry(operation.rawValue, target, .alreadyExisted))
        } catch let error as AWSError {
            try context.audit(AuditEntry(operation.rawValue, target, .failed(error.code ?? "\(error.kind)")))
            throw error
        }
    }

    /// Deletes the endpoint config and model named `name` (either may be gone already).
    private func deleteResources(_ name: String, client: any SageMakerAPI, _ context: ActionContext) async throws {
        for (operation, field) in [(SageMakerOperation.deleteEndpointConfig, "EndpointConfigName"), (.deleteModel, "ModelName")] {
            let existed = try await client.delete(operation, [field: .string(name)])
            try context.audit(AuditEntry(operation.rawValue, name, existed ? .ok : .alreadyGone))
        }
    }

    /// Deletes what `record` says we created: the endpoint (pending, by requeue, until SageMaker
    /// has deleted it), then every config and model.
    public func tearDown(
        _ record: ModelDeployment.SageMakerRecord, _ context: ActionContext
    ) async throws -> TearDown<ModelDeployment.SageMakerRecord> {
        let client = client(record.region, record.endpointURL)
        let target = Self.target(region: record.region, endpoint: record.endpoint)
        let deleting = "deleting SageMaker endpoint \(record.endpoint) in \(record.region)"
        do {
            if let endpoint = try await client.describe(.describeEndpoint, ["EndpointName": .string(record.endpoint)]) {
                guard endpoint["EndpointStatus"]?.stringValue.map(EndpointStatus.init(rawValue:)) != .deleting else { return .pending(record, deleting, []) }
                try context.ensureLeading()
                do {
                    _ = try await client.call(.deleteEndpoint, ["EndpointName": .string(record.endpoint)])
                    try context.audit(AuditEntry("DeleteEndpoint", target, .ok))
                    return .pending(record, deleting, [.normal(.deleting, action: "DeleteEndpoint", "deleting SageMaker endpoint \(record.endpoint)")])
                } catch let error as AWSError where error.isNotFound {
                    // Gone meanwhile: the next look deletes the rest.
                    return .pending(record, deleting, [])
                } catch let error as AWSError where error.code == "ValidationException" {
                    // Busy (Creating, Updating): SageMaker deletes only settled endpoints; try again.
                    try context.audit(AuditEntry("DeleteEndpoint", target, .deferred(error.message)))
                    return .pending(record, deleting, [])
                }
            }
            for model in (record.shadowModels ?? []).map(\.name) {
                try context.ensureLeading()
                let existed = try await client.delete(.deleteModel, ["ModelName": .string(model)])
                try context.audit(AuditEntry(SageMakerOperation.deleteModel.rawValue, model, existed ? .ok : .alreadyGone))
            }
            for config in (record.splitConfigs ?? []) + (record.shadowConfigs ?? []).map(\.name) {
                try context.ensureLeading()
                let existed = try await client.delete(.deleteEndpointConfig, ["EndpointConfigName": .string(config)])
                try context.audit(AuditEntry(SageMakerOperation.deleteEndpointConfig.rawValue, config, existed ? .ok : .alreadyGone))
            }
            for resource in record.resources {
                try context.ensureLeading()
                try await deleteResources(resource.name, client: client, context)
            }
        } catch let error as AWSError {
            throw Self.unavailable(error)
        }
        return .done([.normal(.deleted, action: "DeleteEndpoint", "deleted SageMaker endpoint \(record.endpoint), its configs and models")])
    }
}

extension ModelDeployment.SageMakerRecord {
    /// A config of several variants was created: a canary's, or one with a shadow variant
    /// (`serving`: its production variant's version).
    mutating func noteConfig(_ name: String, serving: String, shadow: Bool) {
        forgetConfig(name)
        if shadow {
            shadowConfigs = (shadowConfigs ?? []) + [.init(name: name, version: serving)]
        } else {
            splitConfigs = (splitConfigs ?? []) + [name]
        }
    }

    mutating func forgetConfig(_ name: String) {
        splitConfigs = splitConfigs?.filter { $0 != name }
        if splitConfigs?.isEmpty == true { splitConfigs = nil }
        shadowConfigs = shadowConfigs?.filter { $0.name != name }
        if shadowConfigs?.isEmpty == true { shadowConfigs = nil }
    }

    mutating func noteShadowModel(_ name: String, version: String) {
        if !(shadowModels ?? []).contains(where: { $0.name == name }) { shadowModels = (shadowModels ?? []) + [.init(name: name, version: version)] }
    }

    mutating func forgetShadowModel(_ name: String) {
        shadowModels = shadowModels?.filter { $0.name != name }
        if shadowModels?.isEmpty == true { shadowModels = nil }
    }
}
