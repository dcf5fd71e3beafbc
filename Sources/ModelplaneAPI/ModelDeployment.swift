/// `ModelDeployment` (`modelplane.dev/v1alpha1`, namespaced): which model version should serve,
/// where, and how a change rolls out. The field names are a contract with users and tools.
public struct ModelDeployment: Codable, Sendable, Hashable {
    public static let group = "modelplane.dev"
    public static let version = "v1alpha1"
    public static let apiVersion = "\(group)/\(version)"
    public static let kind = "ModelDeployment"
    public static let plural = "modeldeployments"
    public static let singular = "modeldeployment"
    public static let shortNames = ["md", "mdep"]
    public static let categories = ["modelplane"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(name: String, namespace: String = "default", spec: Spec) {
        apiVersion = Self.apiVersion
        kind = Self.kind
        metadata = ObjectMeta(name: name, namespace: namespace)
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var model: Model
        public var backend: Backend
        public var rollout: Rollout?
        public var revisionHistoryLimit: Int64?
        /// A version loaded beside the serving one that receives a copy of requests; its answers
        /// are compared with the primary's and never returned.
        public var shadow: Shadow?
        /// Sampled requests and answers written by the inference router.
        public var capture: Capture?

        public init(
            model: Model, backend: Backend, rollout: Rollout? = nil, revisionHistoryLimit: Int64? = nil, shadow: Shadow? = nil, capture: Capture? = nil
        ) {
            self.model = model
            self.backend = backend
            self.rollout = rollout
            self.revisionHistoryLimit = revisionHistoryLimit
            self.shadow = shadow
            self.capture = capture
        }
    }

    /// `spec.capture`: the router writes a sample of requests with their answers as JSON lines.
    public struct Capture: Codable, Sendable, Hashable {
        /// The share of requests written, above 0 and at most 1.
        public var sampleRate: Double
        /// The most the files take together (`64Mi`, `512Ki`, bytes); the oldest go first.
        public var maxBytes: String?

        public init(sampleRate: Double, maxBytes: String? = nil) {
            self.sampleRate = sampleRate
            self.maxBytes = maxBytes
        }

        public static let defaultMaxBytes: Int64 = 64 << 20

        /// `maxBytes` in bytes (the default when absent or unreadable; validation refuses that).
        public var byteLimit: Int64 { maxBytes.flatMap(Syntax.bytes) ?? Self.defaultMaxBytes }
    }

    /// `spec.shadow`: mirror a share of requests to another version and compare the answers.
    public struct Shadow: Codable, Sendable, Hashable {
        /// The version that receives the copies.
        public var version: String
        /// Percent of requests mirrored (default 100).
        public var percent: Int64?
        /// How the two answers are compared; without it, the first output of each, absolutely.
        public var compare: Compare?
        /// SageMaker only: the shadow version's artifact (an s3:// URL), from which its own Model
        /// is made. (Triton loads the shadow version from the model's repository.)
        public var uri: String?

        public init(version: String, percent: Int64? = nil, compare: Compare? = nil, uri: String? = nil) {
            self.version = version
            self.percent = percent
            self.compare = compare
            self.uri = uri
        }

        public struct Compare: Codable, Sendable, Hashable {
            public enum Mode: String, Codable, Sendable, CaseIterable {
                /// Element by element: they agree when every difference is within `tolerance`.
                case absolute
                /// Classification: they agree when the largest element is at the same index.
                case argmax
            }

            /// The output tensor compared (default: the first the primary returns).
            public var output: String?
            public var mode: Mode?
            /// `absolute` only: the largest difference that still agrees (default 0).
            public var tolerance: Double?

            public init(output: String? = nil, mode: Mode? = nil, tolerance: Double? = nil) {
                self.output = output
                self.mode = mode
                self.tolerance = tolerance
            }
        }
    }

    public struct Model: Codable, Sendable, Hashable {
        /// The model's name at the backend.
        public var name: String
        /// The version to serve. A string: Triton's are positive integers, others need not be.
        public var version: String
        /// Where the version's artifact lives: a local directory holding `VERSION/` subdirectories
        /// (Triton) or an `s3://` URL (SageMaker).
        public var uri: String?

        public init(name: String, version: String, uri: String? = nil) {
            self.name = name
            self.version = version
            self.uri = uri
        }
    }

    /// Exactly one member is set.
    public struct Backend: Codable, Sendable, Hashable {
        public var triton: Triton?
        public var sagemaker: SageMaker?

        public init(triton: Triton? = nil, sagemaker: SageMaker? = nil) {
            self.triton = triton
            self.sagemaker = sagemaker
        }

        public enum Kind: String, Sendable { case triton, sagemaker }

        /// The configured backend, or nil when none or several are set (validation reports that).
        public var kind: Kind? {
            switch (triton, sagemaker) {
            case (.some, nil): .triton
            case (nil, .some): .sagemaker
            default: nil
            }
        }
    }

    public struct Triton: Codable, Sendable, Hashable {
        /// Base URL of Triton's HTTP endpoint (KServe v2 protocol).
        public var url: String
        /// Fields merged into Triton's model configuration (a JSON object).
        public var modelConfig: JSONValue?

        public init(url: String, modelConfig: JSONValue? = nil) {
            self.url = url
            self.modelConfig = modelConfig
        }
    }

    public struct SageMaker: Codable, Sendable, Hashable {
        public var region: String
        /// Serving container image.
        public var image: String
        public var executionRoleArn: String
        public var instanceType: String
        public var initialInstanceCount: Int64?
        /// Defaults to the deployment's name.
        public var endpointName: String?
        /// The SageMaker API's URL, for emulators and VPC endpoints; else `AWS_ENDPOINT_URL_SAGEMAKER`,
        /// then `AWS_ENDPOINT_URL`, then the region's public endpoint.
        public var endpointURL: String?
        /// BlueGreen rollouts only: how SageMaker shifts traffic to a new revision.
        public var trafficRouting: TrafficRouting?
        /// BlueGreen rollouts only: CloudWatch alarms that make SageMaker roll an update back.
        public var rollbackAlarms: [String]?

        public init(
            region: String, image: String, executionRoleArn: String, instanceType: String, initialInstanceCount: Int64? = nil, endpointName: String? = nil,
            endpointURL: String? = nil, trafficRouting: TrafficRouting? = nil, rollbackAlarms: [String]? = nil
        ) {
            self.region = region
            self.image = image
            self.executionRoleArn = executionRoleArn
            self.instanceType = instanceType
            self.initialInstanceCount = initialInstanceCount
            self.endpointName = endpointName
            self.endpointURL = endpointURL
            self.trafficRouting = trafficRouting
            self.rollbackAlarms = rollbackAlarms
        }

        /// The production variant that serves `version` while a canary splits the endpoint: `v-VERSION`
        /// when the version is already a valid variant name (letters, digits, inner dashes), else
        /// `v-` and a hash of it. The router names it as `TargetVariant`; the controller gives it its
        /// weight. (An endpoint serving one version alone keeps the one variant `primary`.)
        public static func variantName(version: String) -> String {
            let valid =
                version.count <= 61 && !version.isEmpty && version.first != "-" && version.last != "-"
                && version.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 }
            return "v-" + (valid ? version : FNV1a.safeHash(version))
        }

        /// SageMaker's blue/green traffic shifting (`BlueGreenUpdatePolicy.TrafficRoutingConfiguration`).
        public struct TrafficRouting: Codable, Sendable, Hashable {
            public enum Kind: String, Codable, Sendable, CaseIterable {
                /// All traffic moves to the new fleet at once, then the old fleet waits out the interval.
                case allAtOnce = "AllAtOnce"
                /// `stepPercent` of capacity first, the rest after `waitIntervalSeconds`.
                case canary = "Canary"
                /// `stepPercent` more every `waitIntervalSeconds`.
                case linear = "Linear"

                /// SageMaker's name for it.
                public var wireValue: String {
                    switch self {
                    case .allAtOnce: "ALL_AT_ONCE"
                    case .canary: "CANARY"
                    case .linear: "LINEAR"
                    }
                }
            }

            public var type: Kind
            /// Canary and Linear: the share of capacity each step moves, in percent.
            public var stepPercent: Int64?
            /// Seconds between steps (and the baking time before the old fleet goes); default 0.
            public var waitIntervalSeconds: Int64?

            public init(type: Kind, stepPercent: Int64? = nil, waitIntervalSeconds: Int64? = nil) {
                self.type = type
                self.stepPercent = stepPercent
                self.waitIntervalSeconds = waitIntervalSeconds
            }
        }
    }

    public struct Rollout: Codable, Sendable, Hashable {
        public enum Strategy: String, Codable, Sendable, CaseIterable {
            /// Switch to the new version at once.
            case immediate = "Immediate"
            /// Load the new version beside the old, switch when it is ready, then unload the old.
            case blueGreen = "BlueGreen"
            /// Load the new version beside the old and move traffic to it in `canary.steps`.
            case canary = "Canary"
        }

        public var strategy: Strategy?
        /// Canary only: the steps traffic moves in.
        public var canary: CanarySpec?
        /// BlueGreen only: analysis before and after the switch.
        public var blueGreen: BlueGreenSpec?
        /// How long a new revision may take to become ready before it counts as failed.
        public var progressDeadlineSeconds: Int64?
        /// A KServe v2 inference request (`inputs`, optionally `outputs` and `parameters`) that a
        /// newly loaded version must answer before it counts as serving; if it does not, the
        /// version is unloaded again and what served before keeps serving.
        public var smokeInference: JSONValue?

        public init(
            strategy: Strategy? = nil, canary: CanarySpec? = nil, blueGreen: BlueGreenSpec? = nil, progressDeadlineSeconds: Int64? = nil,
            smokeInference: JSONValue? = nil
        ) {
            self.strategy = strategy
            self.canary = canary
            self.blueGreen = blueGreen
            self.progressDeadlineSeconds = progressDeadlineSeconds
            self.smokeInference = smokeInference
        }
    }

    /// `spec.rollout.canary`.
    public struct CanarySpec: Codable, Sendable, Hashable {
        /// In order; after the last, the canary takes every request and becomes stable.
        public var steps: [CanaryStep]
        /// The canary's metrics: measured in the background, and named by analysis steps. A
        /// failing one aborts the canary; an inconclusive one pauses it.
        public var analysis: CanaryAnalysis?

        public init(steps: [CanaryStep], analysis: CanaryAnalysis? = nil) {
            self.steps = steps
            self.analysis = analysis
        }
    }

    /// One canary step: exactly one member is set.
    public struct CanaryStep: Codable, Sendable, Hashable {
        /// Percent of requests the canary takes from this step on.
        public var setWeight: Int64?
        /// Wait: for `duration`, or without one until `modelplane promote`.
        public var pause: Pause?
        /// Go on once an analysis passes: metrics measured `count` times, or a shadow gate.
        public var analysis: StepAnalysis?

        public init(setWeight: Int64? = nil, pause: Pause? = nil, analysis: StepAnalysis? = nil) {
            self.setWeight = setWeight
            self.pause = pause
            self.analysis = analysis
        }

        public static func weight(_ percent: Int64) -> CanaryStep { CanaryStep(setWeight: percent) }
        public static func pause(_ duration: String? = nil) -> CanaryStep { CanaryStep(pause: Pause(duration: duration)) }
        public static func analysis(_ metrics: [String], count: Int64? = nil) -> CanaryStep {
            CanaryStep(analysis: StepAnalysis(metrics: metrics, count: count))
        }
        public static func shadowGate(_ gate: ShadowGate) -> CanaryStep { CanaryStep(analysis: StepAnalysis(shadow: gate)) }
    }

    public struct Pause: Codable, Sendable, Hashable {
        /// `30s`, `5m`, `1h30m`; absent: until promoted by hand.
        public var duration: String?

        public init(duration: String? = nil) { self.duration = duration }

        /// `duration` as a Duration; nil without one, or when it does not parse (validation
        /// refuses that).
        public var length: Duration? { duration.flatMap(Syntax.duration) }
    }

    public enum Phase: String, Codable, Sendable, CaseIterable {
        case pending = "Pending"
        case progressing = "Progressing"
        case ready = "Ready"
        case degraded = "Degraded"
        case failed = "Failed"
    }

    public struct Status: Codable, Sendable, Hashable {
        public var observedGeneration: Int64?
        public var phase: Phase?
        public var servingVersion: String?
        /// Hash of the serving-relevant spec that is (or is becoming) current.
        public var currentRevision: String?
        /// A one-word summary of the backend for `kubectl get` (`triton`, `sagemaker`).
        public var backend: String?
        public var conditions: [Condition]?
        /// Serving-relevant spec changes, oldest first, at most `revisionHistoryLimit`.
        public var revisions: [Revision]?
        /// What Modelplane loaded on Triton for this deployment: the finalizer unloads exactly
        /// this, and nothing it did not load.
        public var triton: TritonRecord?
        /// What Modelplane created on SageMaker for this deployment: the finalizer (or a move to
        /// another backend) deletes exactly this.
        public var sagemaker: SageMakerRecord?
        /// What backends beyond the built-in ones hold for this deployment, by backend name (a
        /// backend added through the `ServingBackend` seam keeps its record here).
        public var extensions: [String: JSONValue]?
        /// The routing table the controller publishes and the inference router follows: which
        /// versions take requests, with what weight and role. The router decides nothing itself.
        public var traffic: [TrafficTarget]?
        /// `traffic` in one line for `kubectl get`: `2:90 3:10 +4 shadow`.
        public var trafficSummary: String?
        /// The canary in progress (or aborted): which versions, which step, since when.
        public var canary: CanaryStatus?
        /// The running comparison of the shadow version with the primary.
        public var shadow: ShadowStatus?
        /// The canary's analysis runs: the running ones and the last finished.
        public var analysis: AnalysisStatus?

        public init() {}

        /// The backends this status records something of ours on (`triton`, `sagemaker`, and the
        /// names in `extensions`): what a finalizer must see removed.
        public var heldBackends: [String] {
            var names: [String] = []
            if triton != nil { names.append("triton") }
            if sagemaker != nil { names.append("sagemaker") }
            return names + (extensions ?? [:]).keys.sorted()
        }
    }

    /// An immutable record of one serving-relevant spec (model and backend).
    public struct Revision: Codable, Sendable, Hashable {
        /// 1, 2, 3, ... per deployment.
        public var revision: Int64
        /// `Spec.revisionHash` of `spec`.
        public var hash: String
        public var version: String
        /// RFC 3339.
        public var createdAt: String
        /// Why it was made: the `modelplane.dev/change-cause` annotation, or the generation.
        public var cause: String
        /// The serving-relevant spec (`Spec.servingRelevantJSON`): what a rollback restores.
        public var spec: JSONValue

        public init(revision: Int64, hash: String, version: String, createdAt: String, cause: String, spec: JSONValue) {
            self.revision = revision
            self.hash = hash
            self.version = version
            self.createdAt = createdAt
            self.cause = cause
            self.spec = spec
        }
    }

    /// `status.traffic` as the Traffic column shows it: `VERSION:WEIGHT` for the lines that take
    /// requests, `+VERSION shadow` for a mirror.
    public static func trafficSummary(_ traffic: [TrafficTarget]?) -> String? {
        guard let traffic, !traffic.isEmpty else { return nil }
        return traffic.map { $0.role == .shadow ? "+\($0.version) shadow" + ($0.weight == 100 ? "" : " \($0.weight)%") : "\($0.version):\($0.weight)" }
            .joined(separator: " ")
    }

    /// One line of `status.traffic`.
    public struct TrafficTarget: Codable, Sendable, Hashable {
        public enum Role: String, Codable, Sendable, Hashable, CaseIterable {
            case stable, canary, shadow
        }

        /// The revision (its number, as `status.currentRevision` gives it) this version belongs to.
        public var revision: String?
        public var version: String
        /// Share of requests, out of the weights of all stable and canary lines (a shadow's is the
        /// share of requests mirrored to it).
        public var weight: Int64
        public var role: Role

        public init(revision: String?, version: String, weight: Int64, role: Role) {
            self.revision = revision
            self.version = version
            self.weight = weight
            self.role = role
        }
    }

    /// `status.canary`: a canary from `stableVersion` to `canaryVersion`, as far as it got.
    public struct CanaryStatus: Codable, Sendable, Hashable {
        public enum Phase: String, Codable, Sendable, Hashable, CaseIterable {
            /// The canary version is being loaded beside the stable one; it takes nothing yet.
            case loading = "Loading"
            /// Following the steps.
            case progressing = "Progressing"
            /// Waiting: at a pause step without a duration (for `modelplane promote`), or paused by
            /// `modelplane pause`.
            case paused = "Paused"
            /// Stopped by `modelplane abort` (or a failure): the stable version takes everything
            /// until the spec changes or `modelplane retry`.
            case aborted = "Aborted"
        }

        public var stableVersion: String
        public var stableRevision: String?
        public var canaryVersion: String
        public var canaryRevision: String?
        public var phase: Phase
        /// The step being carried out, from 0; the number of steps once all are done.
        public var step: Int64
        /// When the current step began (RFC 3339): a timed pause ends `duration` after it.
        public var stepStartedAt: String?
        /// Percent of requests the canary takes now.
        public var weight: Int64
        /// Why it waits or stopped.
        public var message: String?
        /// The last rollout request (`modelplane promote`, `abort`, `retry`) acted on, so that
        /// none is carried out twice.
        public var lastRequest: String?
        /// Why that request did not apply, if it did not (the command reports it).
        public var lastRequestRefused: String?
        /// When this attempt began (RFC 3339 with microseconds): the canary started, or was
        /// retried. Analysis runs older than it belong to an earlier attempt.
        public var startedAt: String?

        public init(
            stableVersion: String, stableRevision: String? = nil, canaryVersion: String, canaryRevision: String? = nil, phase: Phase, step: Int64 = 0,
            stepStartedAt: String? = nil, weight: Int64 = 0, message: String? = nil, lastRequest: String? = nil, lastRequestRefused: String? = nil,
            startedAt: String? = nil
        ) {
            self.startedAt = startedAt
            self.lastRequestRefused = lastRequestRefused
            self.stableVersion = stableVersion
            self.stableRevision = stableRevision
            self.canaryVersion = canaryVersion
            self.canaryRevision = canaryRevision
            self.phase = phase
            self.step = step
            self.stepStartedAt = stepStartedAt
            self.weight = weight
            self.message = message
            self.lastRequest = lastRequest
        }
    }

    /// `status.shadow`: how the shadow's answers compare with the primary's, since `since`.
    public struct ShadowStatus: Codable, Sendable, Hashable {
        public var version: String
        /// RFC 3339: when these figures started (the shadow version or the router started).
        public var since: String
        /// Requests copied to the shadow.
        public var mirrored: Int64
        /// Copies dropped because the shadow's queue was full (production never waits for it).
        public var dropped: Int64
        /// Copies whose answer was compared with the primary's.
        public var compared: Int64
        /// Share of compared answers that agree (0 to 1).
        public var agreement: Double?
        /// Mean absolute difference of the compared output's elements.
        public var meanAbsDiff: Double?
        /// Copies the shadow answered with an error (or not at all).
        public var errors: Int64
        /// Latency of the primary and the shadow on the mirrored requests, in milliseconds.
        public var latency: ShadowLatency?

        public init(
            version: String, since: String, mirrored: Int64 = 0, dropped: Int64 = 0, compared: Int64 = 0, agreement: Double? = nil,
            meanAbsDiff: Double? = nil, errors: Int64 = 0, latency: ShadowLatency? = nil
        ) {
            self.version = version
            self.since = since
            self.mirrored = mirrored
            self.dropped = dropped
            self.compared = compared
            self.agreement = agreement
            self.meanAbsDiff = meanAbsDiff
            self.errors = errors
            self.latency = latency
        }
    }

    public struct ShadowLatency: Codable, Sendable, Hashable {
        public var primaryP50Ms: Double
        public var primaryP99Ms: Double
        public var shadowP50Ms: Double
        public var shadowP99Ms: Double

        public init(primaryP50Ms: Double, primaryP99Ms: Double, shadowP50Ms: Double, shadowP99Ms: Double) {
            self.primaryP50Ms = primaryP50Ms
            self.primaryP99Ms = primaryP99Ms
            self.shadowP50Ms = shadowP50Ms
            self.shadowP99Ms = shadowP99Ms
        }
    }

    public struct TritonRecord: Codable, Sendable, Hashable {
        public var url: String
        public var model: String
        /// Who loaded it: nil (a status written before this was recorded) reads as `.loaded`.
        public var origin: Origin?

        public enum Origin: String, Codable, Sendable, Hashable, CaseIterable {
            /// Modelplane loaded it: unloaded when the deployment is deleted or moves away.
            case loaded = "Loaded"
            /// It was already serving when the deployment found it: left loaded when the
            /// deployment is deleted or moves away, since Modelplane did not load it.
            case adopted = "Adopted"
        }

        public init(url: String, model: String, origin: Origin? = nil) {
            self.url = url
            self.model = model
            self.origin = origin
        }

        /// The same model on the same Triton, whoever loaded it.
        public func isSameModel(as other: TritonRecord) -> Bool { url == other.url && model == other.model }

        /// It was serving before the deployment adopted it, and stays when the deployment goes.
        public var isAdopted: Bool { origin == .adopted }
    }

    public struct SageMakerRecord: Codable, Sendable, Hashable {
        public var region: String
        /// The API URL it was created through (for emulators and VPC endpoints), if not the default.
        public var endpointURL: String?
        public var endpoint: String
        /// Models and endpoint configs created, oldest first; a model and its config share a name.
        public var resources: [SageMakerResource]
        /// The config the last CreateEndpoint/UpdateEndpoint asked for, until the endpoint serves it
        /// or SageMaker rolls it back.
        public var pendingConfig: String?
        /// Endpoint configs of several production variants (a canary's: the stable version's
        /// model and the canary's, weighted), which own no model; deleted once nothing uses them.
        public var splitConfigs: [String]?
        /// Endpoint configs of a serving version's variant with a shadow variant: `version` is the
        /// serving one's.
        public var shadowConfigs: [SageMakerResource]?
        /// Models made for shadow versions (`spec.shadow.uri`), which own no config.
        public var shadowModels: [SageMakerResource]?

        public init(
            region: String, endpointURL: String? = nil, endpoint: String, resources: [SageMakerResource] = [], pendingConfig: String? = nil,
            splitConfigs: [String]? = nil, shadowConfigs: [SageMakerResource]? = nil, shadowModels: [SageMakerResource]? = nil
        ) {
            self.shadowConfigs = shadowConfigs
            self.shadowModels = shadowModels
            self.region = region
            self.endpointURL = endpointURL
            self.endpoint = endpoint
            self.resources = resources
            self.pendingConfig = pendingConfig
            self.splitConfigs = splitConfigs
        }
    }

    public struct SageMakerResource: Codable, Sendable, Hashable {
        /// The name of both the Model and the EndpointConfig.
        public var name: String
        /// The model version they serve.
        public var version: String

        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    /// The annotation whose value becomes the next revision's cause (as kubectl's change-cause).
    public static let changeCauseAnnotation = "modelplane.dev/change-cause"
    /// The revision hash the change-cause was written for; set, the cause applies to that spec only.
    public static let changeCauseHashAnnotation = "modelplane.dev/change-cause-hash"
    /// Set by the Git sync on objects it applies: the commit that last created or changed them.
    public static let gitCommitAnnotation = "modelplane.dev/git-commit"
    /// Set by the Git sync: the repository, branch and path an object comes from (no secrets).
    public static let gitSourceAnnotation = "modelplane.dev/git-source"
    /// Set by the Git sync: which sync owns an object (a short hash of its source). The sync
    /// updates and prunes only objects carrying its own value.
    public static let syncLabel = "modelplane.dev/sync"
    /// Set by a user to "true": the Git sync leaves the object alone (no update, no prune), for
    /// example to keep a manual rollback until Git catches up.
    public static let syncPausedAnnotation = "modelplane.dev/sync-paused"

    /// Set by `modelplane promote|abort|retry`: `ACTION@ID` (ACTION `promote`, `promote-full`,
    /// `abort` or `retry`). An annotation, not the spec, so a Git sync does not undo it; the
    /// controller acts on each ID once (`status.canary.lastRequest`) and then removes it.
    public static let rolloutRequestAnnotation = "modelplane.dev/rollout-request"
    /// Set to "true" by `modelplane pause`, removed by `resume`: the canary's steps stand still.
    public static let rolloutPausedAnnotation = "modelplane.dev/rollout-paused"

    /// Annotations that commands and the controller set on a live object, not a manifest: applying
    /// a manifest that does not name them leaves them as they are (a pending `promote`, a pause).
    public static let operationalAnnotations: Set<String> = [rolloutRequestAnnotation, rolloutPausedAnnotation, syncPausedAnnotation]

    /// The Git sync leaves it alone: its `modelplane.dev/sync-paused` annotation is "true".
    public var isSyncPaused: Bool { metadata.annotations?[Self.syncPausedAnnotation] == "true" }
}

// MARK: - Defaulting

extension ModelDeployment {
    public enum Defaults {
        public static let namespace = "default"
        public static let strategy = Rollout.Strategy.immediate
        public static let progressDeadlineSeconds: Int64 = 600
        public static let revisionHistoryLimit: Int64 = 10
        public static let initialInstanceCount: Int64 = 1
    }

    /// Fills the defaults the schema declares, which the API server stores at admission (as
    /// kube-apiserver does with the CRD's): the rollout's strategy and deadline, the revision
    /// history, SageMaker's instance count. `SchemaDefaultsTests` holds this to the schema.
    public mutating func applySchemaDefaults() {
        var rollout = spec.rollout ?? Rollout()
        if rollout.strategy == nil { rollout.strategy = Defaults.strategy }
        if rollout.progressDeadlineSeconds == nil { rollout.progressDeadlineSeconds = Defaults.progressDeadlineSeconds }
        spec.rollout = rollout
        if spec.revisionHistoryLimit == nil { spec.revisionHistoryLimit = Defaults.revisionHistoryLimit }
        if spec.backend.sagemaker != nil, spec.backend.sagemaker?.initialInstanceCount == nil {
            spec.backend.sagemaker?.initialInstanceCount = Defaults.initialInstanceCount
        }
    }

    public func withSchemaDefaults() -> ModelDeployment {
        var copy = self
        copy.applySchemaDefaults()
        return copy
    }

    /// Fills every optional field that has a default: the schema's, and those that depend on
    /// the object (the namespace, SageMaker's endpoint name), which the controller works out.
    public mutating func applyDefaults() {
        if metadata.namespace == nil { metadata.namespace = Defaults.namespace }
        applySchemaDefaults()
        if spec.backend.sagemaker != nil, spec.backend.sagemaker?.endpointName == nil { spec.backend.sagemaker?.endpointName = metadata.name }
    }

    public func defaulted() -> ModelDeployment {
        var copy = self
        copy.applyDefaults()
        return copy
    }
}
