/// Semantic validation of a ModelDeployment: everything a structural schema cannot say alone.
/// The same rules run in `modelplane validate`, the manifest reader and the API server, and the
/// CRD's `pattern`s and CEL rules express the same limits for a real cluster.
extension ModelDeployment {
    public enum Limits {
        public static let nameMaxLength = 63
        public static let modelNameMaxLength = 128
        public static let versionMaxLength = 64
        public static let uriMaxLength = 1024
        public static let progressDeadlineSeconds: ClosedRange<Int64> = 1...86_400
        public static let revisionHistoryLimit: ClosedRange<Int64> = 0...1_000
        public static let initialInstanceCount: ClosedRange<Int64> = 1...1_000
        public static let modelConfigMaxBytes = 64 * 1024
        public static let stepPercent: ClosedRange<Int64> = 1...100
        public static let waitIntervalSeconds: ClosedRange<Int64> = 0...3_600
        public static let rollbackAlarms = 10
        public static let canaryWeight: ClosedRange<Int64> = 0...100
        public static let canarySteps = 32
        public static let analysisMetrics = 16
        /// The most a count or a limit of an analysis may be.
        public static let analysisLimit: Int64 = 10_000
        public static let analysisMinRequests: ClosedRange<Int64> = 1...100_000_000
    }

    /// Every problem, each with the field it concerns. Empty means valid.
    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        let root = FieldPath()
        if apiVersion != Self.apiVersion {
            errors.append(FieldError(.notSupported, root.appending("apiVersion"), "\"\(apiVersion)\": must be \"\(Self.apiVersion)\""))
        }
        if kind != Self.kind {
            errors.append(FieldError(.notSupported, root.appending("kind"), "\"\(kind)\": must be \"\(Self.kind)\""))
        }
        Self.validate(metadata, into: &errors)
        spec.validate(deploymentName: metadata.name, at: root.appending("spec"), into: &errors)
        return errors
    }

    /// Metadata as kube-apiserver checks it: the name (a DNS-1123 label here, a subdomain for
    /// other kinds with `subdomainName`), namespace, label and annotation keys and values, and
    /// finalizer names (qualified names, as `example.com/cleanup`).
    static func validate(_ metadata: ObjectMeta, subdomainName: Bool = false, into errors: inout [FieldError]) {
        validateMetadata(
            name: metadata.name, generateName: metadata.generateName, namespace: metadata.namespace, labels: metadata.labels ?? [:],
            annotationKeys: Array((metadata.annotations ?? [:]).keys), finalizers: metadata.finalizers ?? [], subdomainName: subdomainName, into: &errors)
    }

    /// `validate(_:subdomainName:into:)` on the fields themselves, for callers that have JSON
    /// (the API server's check of every Event it stores decodes nothing).
    static func validateMetadata(
        name: String?, generateName: String?, namespace: String?, labels: [String: String], annotationKeys: [String], finalizers: [String],
        subdomainName: Bool, into errors: inout [FieldError]
    ) {
        let path = FieldPath().appending("metadata")
        if let name {
            if let problem = subdomainName ? Syntax.dns1123SubdomainProblem(name) : Syntax.dns1123LabelProblem(name) {
                errors.append(FieldError(.invalid, path.appending("name"), "\"\(name)\": \(problem)"))
            }
        } else if generateName == nil {
            errors.append(FieldError(.required, path.appending("name"), "name or generateName is required"))
        }
        if let namespace, let problem = Syntax.dns1123LabelProblem(namespace) {
            errors.append(FieldError(.invalid, path.appending("namespace"), "\"\(namespace)\": \(problem)"))
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            let labelPath = path.appending("labels").appending(key)
            if let problem = Syntax.qualifiedNameProblem(key) {
                errors.append(FieldError(.invalid, labelPath, "key \"\(key)\": \(problem)"))
            }
            if let problem = Syntax.labelValueProblem(value) {
                errors.append(FieldError(.invalid, labelPath, "\"\(value)\": \(problem)"))
            }
        }
        for key in annotationKeys.sorted() {
            if let problem = Syntax.qualifiedNameProblem(key) {
                errors.append(FieldError(.invalid, path.appending("annotations").appending(key), "key \"\(key)\": \(problem)"))
            }
        }
        for (index, finalizer) in finalizers.enumerated() {
            if let problem = Syntax.qualifiedNameProblem(finalizer) {
                errors.append(FieldError(.invalid, path.appending("finalizers").appending(index: index), "\"\(finalizer)\": \(problem)"))
            }
        }
    }
}

extension ModelDeployment.Spec {
    func validate(deploymentName: String?, at path: FieldPath, into errors: inout [FieldError]) {
        let backendKind = backend.kind
        model.validate(backend: backendKind, at: path.appending("model"), into: &errors)

        let backendPath = path.appending("backend")
        switch (backend.triton, backend.sagemaker) {
        case (nil, nil):
            errors.append(FieldError(.required, backendPath, "exactly one of triton, sagemaker must be set"))
        case (.some, .some):
            errors.append(FieldError(.forbidden, backendPath, "exactly one of triton, sagemaker may be set, found both"))
        default:
            break
        }
        backend.triton?.validate(modelName: model.name, at: backendPath.appending("triton"), into: &errors)
        backend.sagemaker?.validate(at: backendPath.appending("sagemaker"), into: &errors)
        if let sagemaker = backend.sagemaker, rollout?.strategy ?? ModelDeployment.Defaults.strategy != .blueGreen {
            for (field, set) in [("trafficRouting", sagemaker.trafficRouting != nil), ("rollbackAlarms", sagemaker.rollbackAlarms != nil)] where set {
                errors.append(
                    FieldError(
                        .forbidden, backendPath.appending("sagemaker").appending(field),
                        "applies only to BlueGreen rollouts: set spec.rollout.strategy to BlueGreen, or remove it"))
            }
        }

        let strategy = rollout?.strategy ?? ModelDeployment.Defaults.strategy
        if let canary = rollout?.canary {
            let canaryPath = path.appending("rollout").appending("canary")
            if strategy != .canary {
                errors.append(FieldError(.forbidden, canaryPath, "canary applies only when rollout.strategy is Canary"))
            }
            if canary.steps.count > ModelDeployment.Limits.canarySteps {
                errors.append(
                    FieldError(
                        .tooLong, canaryPath.appending("steps"), "must have at most \(ModelDeployment.Limits.canarySteps) items, has \(canary.steps.count)"))
            }
            for (index, step) in canary.steps.enumerated() {
                let stepPath = canaryPath.appending("steps").appending(index: index)
                let members = [("setWeight", step.setWeight != nil), ("pause", step.pause != nil), ("analysis", step.analysis != nil)].filter(\.1).map(\.0)
                if members.isEmpty {
                    errors.append(FieldError(.required, stepPath, "a step is exactly one of setWeight, pause, analysis"))
                } else if members.count > 1 {
                    errors.append(
                        FieldError(.forbidden, stepPath, "a step is exactly one of setWeight, pause, analysis, found \(members.joined(separator: " and "))"))
                }
                if let analysis = step.analysis {
                    analysis.validate(defined: canary.analysis, backend: backendKind, at: stepPath.appending("analysis"), into: &errors)
                    if analysis.shadow != nil, canary.steps[..<index].contains(where: { ($0.setWeight ?? 0) > 0 }) {
                        errors.append(
                            FieldError(
                                .invalid, stepPath.appending("analysis").appending("shadow"),
                                "a shadow gate comes before the canary takes any requests (before the first setWeight above 0)"))
                    }
                }
                if let weight = step.setWeight, !ModelDeployment.Limits.canaryWeight.contains(weight) {
                    errors.append(FieldError(.invalid, stepPath.appending("setWeight"), "\(weight): must be between 0 and 100"))
                }
                if let duration = step.pause?.duration, Syntax.duration(duration) == nil {
                    errors.append(
                        FieldError(
                            .invalid, stepPath.appending("pause").appending("duration"),
                            "\"\(duration)\": must be a duration such as 30s, 5m or 1h30m (at most a year)"))
                }
            }
            canary.analysis?.validate(at: canaryPath.appending("analysis"), into: &errors)
        }
        if let blueGreen = rollout?.blueGreen {
            let blueGreenPath = path.appending("rollout").appending("blueGreen")
            if strategy != .blueGreen {
                errors.append(FieldError(.forbidden, blueGreenPath, "blueGreen applies only when rollout.strategy is BlueGreen"))
            }
            if backendKind == .sagemaker {
                errors.append(FieldError(.forbidden, blueGreenPath, "SageMaker's BlueGreen rolls back by its rollbackAlarms; for analysis use strategy Canary"))
            }
            blueGreen.prePromotionAnalysis?.validate(
                defined: blueGreen.analysis, backend: backendKind, at: blueGreenPath.appending("prePromotionAnalysis"), into: &errors,
                definedAt: "blueGreen.analysis.metrics")
            if let post = blueGreen.postPromotionAnalysis {
                let postPath = blueGreenPath.appending("postPromotionAnalysis")
                if post.shadow != nil {
                    errors.append(FieldError(.invalid, postPath.appending("shadow"), "a shadow gate comes before the switch: use prePromotionAnalysis"))
                } else {
                    post.validate(defined: blueGreen.analysis, backend: backendKind, at: postPath, into: &errors, definedAt: "blueGreen.analysis.metrics")
                }
            }
            blueGreen.analysis?.validate(at: blueGreenPath.appending("analysis"), into: &errors)
            if blueGreen.prePromotionAnalysis == nil, blueGreen.postPromotionAnalysis == nil {
                errors.append(FieldError(.required, blueGreenPath, "name a prePromotionAnalysis or a postPromotionAnalysis"))
            }
        }
        if let shadow {
            let shadowPath = path.appending("shadow")
            if shadow.version.isEmpty {
                errors.append(FieldError(.required, shadowPath.appending("version"), "the shadow version must not be empty"))
            } else if shadow.version == model.version {
                errors.append(FieldError(.invalid, shadowPath.appending("version"), "\"\(shadow.version)\": the shadow version must differ from model.version"))
            } else if backendKind == .triton, !Syntax.isPositiveInteger(shadow.version) {
                errors.append(FieldError(.invalid, shadowPath.appending("version"), "\"\(shadow.version)\": Triton model versions are positive integers"))
            }
            if let percent = shadow.percent, !(1...100).contains(percent) {
                errors.append(FieldError(.invalid, shadowPath.appending("percent"), "\(percent): must be between 1 and 100"))
            }
            shadow.compare?.validate(at: shadowPath.appending("compare"), into: &errors)
        }
        if let capture {
            let capturePath = path.appending("capture")
            if !(capture.sampleRate > 0 && capture.sampleRate <= 1) {
                errors.append(FieldError(.invalid, capturePath.appending("sampleRate"), "\(capture.sampleRate): must be above 0 and at most 1"))
            }
            if let size = capture.maxBytes, Syntax.bytes(size) == nil {
                errors.append(FieldError(.invalid, capturePath.appending("maxBytes"), "\"\(size)\": must be a size such as 1048576, 512Ki or 64Mi"))
            }
        }
        if let shadow {
            let uriPath = path.appending("shadow").appending("uri")
            switch backendKind {
            case .sagemaker?:
                if let uri = shadow.uri {
                    if let problem = Syntax.s3URIProblem(uri) { errors.append(FieldError(.invalid, uriPath, "\"\(uri)\": \(problem)")) }
                } else {
                    errors.append(FieldError(.required, uriPath, "SageMaker needs the shadow version's artifact to make its Model"))
                }
                if shadow.compare != nil {
                    errors.append(
                        FieldError(
                            .forbidden, path.appending("shadow").appending("compare"), "SageMaker does not return the shadow's answers, so none are compared"))
                }
            case .triton?:
                if shadow.uri != nil { errors.append(FieldError(.forbidden, uriPath, "Triton loads the shadow version from the model's repository")) }
            default: break
            }
        }

        if let smoke = rollout?.smokeInference {
            Self.validateSmokeInference(smoke, at: path.appending("rollout").appending("smokeInference"), into: &errors)
        }
        if let rollout, let deadline = rollout.progressDeadlineSeconds {
            let limits = ModelDeployment.Limits.progressDeadlineSeconds
            if !limits.contains(deadline) {
                errors.append(
                    FieldError(
                        .invalid, path.appending("rollout").appending("progressDeadlineSeconds"),
                        "\(deadline): must be between \(limits.lowerBound) and \(limits.upperBound)"))
            }
        }
        if let limit = revisionHistoryLimit, !ModelDeployment.Limits.revisionHistoryLimit.contains(limit) {
            let limits = ModelDeployment.Limits.revisionHistoryLimit
            errors.append(
                FieldError(.invalid, path.appending("revisionHistoryLimit"), "\(limit): must be between \(limits.lowerBound) and \(limits.upperBound)"))
        }
    }
}

extension ModelDeployment.Spec {
    static func validateSmokeInference(_ smoke: JSONValue, at path: FieldPath, into errors: inout [FieldError]) {
        guard case .object(let fields) = smoke else {
            errors.append(FieldError(.typeInvalid, path, "expected a JSON object (a KServe v2 inference request), got \(smoke.typeName)"))
            return
        }
        guard case .array(let inputs)? = fields["inputs"], !inputs.isEmpty else {
            errors.append(
                FieldError(
                    fields["inputs"] == nil ? .required : .invalid, path.appending("inputs"),
                    "a non-empty list of input tensors ({name, shape, datatype, data}) is required"))
            return
        }
        for (index, input) in inputs.enumerated() {
            for field in ["name", "shape", "datatype", "data"] where input[field] == nil {
                errors.append(FieldError(.required, path.appending("inputs").appending(index: index).appending(field), "required in a KServe v2 input tensor"))
            }
        }
        if smoke.canonicalText.utf8.count > ModelDeployment.Limits.modelConfigMaxBytes {
            errors.append(FieldError(.tooLong, path, "may not be larger than \(ModelDeployment.Limits.modelConfigMaxBytes) bytes as JSON"))
        }
    }
}

extension ModelDeployment.Model {
    func validate(backend: ModelDeployment.Backend.Kind?, at path: FieldPath, into errors: inout [FieldError]) {
        if let problem = Syntax.modelNameProblem(name) {
            errors.append(FieldError(name.isEmpty ? .required : .invalid, path.appending("name"), name.isEmpty ? problem : "\"\(name)\": \(problem)"))
        }
        let versionPath = path.appending("version")
        if version.isEmpty {
            errors.append(FieldError(.required, versionPath, "the version to serve must not be empty"))
        } else if version.count > ModelDeployment.Limits.versionMaxLength {
            errors.append(FieldError(.tooLong, versionPath, "may not be more than \(ModelDeployment.Limits.versionMaxLength) characters"))
        } else if backend == .triton, !Syntax.isPositiveInteger(version) {
            errors.append(FieldError(.invalid, versionPath, "\"\(version)\": Triton model versions are positive integers (the VERSION/ directory names)"))
        } else if !version.unicodeScalars.allSatisfy({ Syntax.isAlnum($0) || "._-".unicodeScalars.contains($0) }) {
            errors.append(FieldError(.invalid, versionPath, "\"\(version)\": may contain only letters, digits, '.', '_' and '-'"))
        }
        guard let uri else { return }
        let uriPath = path.appending("uri")
        if uri.isEmpty {
            errors.append(FieldError(.invalid, uriPath, "must not be empty when set (leave it out when the model is already at the backend)"))
        } else if uri.count > ModelDeployment.Limits.uriMaxLength {
            errors.append(FieldError(.tooLong, uriPath, "may not be more than \(ModelDeployment.Limits.uriMaxLength) characters"))
        } else if backend == .sagemaker {
            if let problem = Syntax.s3URIProblem(uri) {
                errors.append(FieldError(.invalid, uriPath, "\"\(uri)\": \(problem)"))
            }
        } else if backend == .triton, uri.firstRange(of: "://") != nil ? !uri.hasPrefix("file:///") : !uri.hasPrefix("/") {
            errors.append(
                FieldError(
                    .invalid, uriPath,
                    "\"\(uri)\": for Triton, an absolute local directory (/path or file:///path) holding VERSION/ subdirectories, which the controller uploads"
                ))
        }
    }
}

extension ModelDeployment.Triton {
    /// Config fields the controller owns: it names the model and chooses the serving versions.
    static let controllerOwnedConfigFields = ["version_policy"]

    func validate(modelName: String, at path: FieldPath, into errors: inout [FieldError]) {
        if let problem = Syntax.httpURLProblem(url) {
            // Never echo credentials someone put in the URL.
            let shown = Syntax.redactingCredentials(url)
            errors.append(FieldError(url.isEmpty ? .required : .invalid, path.appending("url"), url.isEmpty ? problem : "\"\(shown)\": \(problem)"))
        }
        guard let modelConfig else { return }
        let configPath = path.appending("modelConfig")
        guard case .object(let fields) = modelConfig else {
            errors.append(FieldError(.typeInvalid, configPath, "expected a JSON object (Triton model configuration fields), got \(modelConfig.typeName)"))
            return
        }
        for field in Self.controllerOwnedConfigFields where fields[field] != nil {
            errors.append(FieldError(.forbidden, configPath.appending(field), "set by Modelplane from spec.model.version; remove it"))
        }
        if let name = fields["name"], name != .string(modelName) {
            errors.append(FieldError(.invalid, configPath.appending("name"), "must equal spec.model.name (\"\(modelName)\") or be left out"))
        }
        if modelConfig.canonicalText.utf8.count > ModelDeployment.Limits.modelConfigMaxBytes {
            errors.append(FieldError(.tooLong, configPath, "may not be larger than \(ModelDeployment.Limits.modelConfigMaxBytes) bytes as JSON"))
        }
    }
}

extension ModelDeployment.SageMaker {
    func validate(at path: FieldPath, into errors: inout [FieldError]) {
        func check(_ field: String, _ value: String, _ problem: String?) {
            guard let problem else { return }
            errors.append(
                FieldError(value.isEmpty ? .required : .invalid, path.appending(field), value.isEmpty ? "must not be empty" : "\"\(value)\": \(problem)"))
        }
        check("region", region, Syntax.awsRegionProblem(region))
        check(
            "image", image,
            image.isEmpty
                ? "" : image.count > 255 ? "may not be more than 255 characters" : image.contains(where: \.isWhitespace) ? "must not contain whitespace" : nil)
        check("executionRoleArn", executionRoleArn, Syntax.iamRoleARNProblem(executionRoleArn))
        check("instanceType", instanceType, Syntax.instanceTypeProblem(instanceType))
        if let count = initialInstanceCount, !ModelDeployment.Limits.initialInstanceCount.contains(count) {
            let limits = ModelDeployment.Limits.initialInstanceCount
            errors.append(
                FieldError(.invalid, path.appending("initialInstanceCount"), "\(count): must be between \(limits.lowerBound) and \(limits.upperBound)"))
        }
        if let endpointName {
            check("endpointName", endpointName, Syntax.sageMakerNameProblem(endpointName))
        }
        if let endpointURL {
            // Never echo credentials someone put in the URL.
            check("endpointURL", endpointURL, Syntax.httpURLProblem(endpointURL).map { _ in "must be an http(s) URL without credentials" })
        }
        if let routing = trafficRouting {
            let routingPath = path.appending("trafficRouting")
            let limits = ModelDeployment.Limits.self
            switch (routing.type, routing.stepPercent) {
            case (.allAtOnce, .some):
                errors.append(FieldError(.forbidden, routingPath.appending("stepPercent"), "not allowed for AllAtOnce (it moves all traffic at once)"))
            case (.canary, nil), (.linear, nil):
                errors.append(
                    FieldError(.required, routingPath.appending("stepPercent"), "required for \(routing.type.rawValue): the share of capacity per step"))
            case (_, let step?) where !limits.stepPercent.contains(step):
                errors.append(FieldError(.invalid, routingPath.appending("stepPercent"), "\(step): must be between 1 and 100"))
            default:
                break
            }
            if let wait = routing.waitIntervalSeconds, !limits.waitIntervalSeconds.contains(wait) {
                errors.append(
                    FieldError(
                        .invalid, routingPath.appending("waitIntervalSeconds"),
                        "\(wait): must be between \(limits.waitIntervalSeconds.lowerBound) and \(limits.waitIntervalSeconds.upperBound)"))
            }
        }
        if let alarms = rollbackAlarms {
            let alarmsPath = path.appending("rollbackAlarms")
            if alarms.count > ModelDeployment.Limits.rollbackAlarms {
                errors.append(FieldError(.tooMany, alarmsPath, "may not have more than \(ModelDeployment.Limits.rollbackAlarms) alarms (SageMaker's limit)"))
            }
            for (index, alarm) in alarms.enumerated() where alarm.isEmpty || alarm.count > 255 {
                errors.append(FieldError(.invalid, alarmsPath.appending(index: index), "an alarm name is 1 to 255 characters"))
            }
        }
    }
}
