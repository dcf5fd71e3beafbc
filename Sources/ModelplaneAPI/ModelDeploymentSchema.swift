/// The ModelDeployment's schema: the single source of the CRD in `crds/` and of the manifest
/// reader's strict field checking. `SchemaConformanceTests` prove it matches the Swift types.
extension ModelDeployment {
    public static let schema: Schema = .object(
        ObjectSchema(
            "A model version to serve, the backend that serves it, and how changes roll out.",
            properties: [
                .required("apiVersion", .string(.init("modelplane.dev/v1alpha1", enum: [apiVersion]))),
                .required("kind", .string(.init("ModelDeployment", enum: [kind]))),
                .required("metadata", ObjectMeta.schema),
                .required("spec", specSchema),
                .optional("status", statusSchema),
            ]
        ))

    static let specSchema: Schema = .object(
        ObjectSchema(
            "Desired state.",
            properties: [
                .required(
                    "model",
                    .object(
                        ObjectSchema(
                            "The model and version to serve.",
                            properties: [
                                .required(
                                    "name",
                                    .string(
                                        .init(
                                            "The model's name at the backend.", pattern: Syntax.modelNamePattern, minLength: 1,
                                            maxLength: Limits.modelNameMaxLength))),
                                .required(
                                    "version",
                                    .string(
                                        .init(
                                            "The version to serve (a string; positive integer for Triton).", pattern: "^[A-Za-z0-9._-]+$", minLength: 1,
                                            maxLength: Limits.versionMaxLength)
                                    )),
                                .optional(
                                    "uri",
                                    .string(
                                        .init(
                                            "Where the version's artifact lives: a local directory with VERSION/ subdirectories (Triton) or an s3:// URL (SageMaker).",
                                            minLength: 1, maxLength: Limits.uriMaxLength))),
                            ]
                        ))),
                .required(
                    "backend",
                    .object(
                        ObjectSchema(
                            "The serving backend; exactly one member is set.",
                            properties: [
                                .optional(
                                    "triton",
                                    .object(
                                        ObjectSchema(
                                            "NVIDIA Triton Inference Server, through its HTTP/REST (KServe v2) and model-repository APIs.",
                                            properties: [
                                                .required(
                                                    "url",
                                                    .string(
                                                        .init(
                                                            "Base URL of Triton's HTTP endpoint, e.g. http://127.0.0.1:8000.",
                                                            pattern: "^https?://[^@/?#\\s]+(/[^?#\\s]*)?$", minLength: 1, maxLength: 2048))),
                                                .optional(
                                                    "modelConfig",
                                                    .freeform(
                                                        description:
                                                            "Fields merged into Triton's model configuration (JSON object); version_policy is set by Modelplane."
                                                    )),
                                            ]
                                        ))),
                                .optional(
                                    "sagemaker",
                                    .object(
                                        ObjectSchema(
                                            "An AWS SageMaker real-time endpoint.",
                                            properties: [
                                                .required(
                                                    "region", .string(.init("AWS region, e.g. us-east-1.", pattern: Syntax.awsRegionPattern, minLength: 1))),
                                                .required("image", .string(.init("Serving container image.", minLength: 1, maxLength: 255))),
                                                .required(
                                                    "executionRoleArn",
                                                    .string(
                                                        .init("IAM role SageMaker assumes.", pattern: Syntax.iamRoleARNPattern, minLength: 1, maxLength: 2048))),
                                                .required(
                                                    "instanceType",
                                                    .string(.init("Instance type, e.g. ml.m5.large.", pattern: Syntax.instanceTypePattern, minLength: 1))),
                                                .optional(
                                                    "initialInstanceCount", default: .int(Defaults.initialInstanceCount),
                                                    .integer(
                                                        .init(
                                                            "Instances behind the endpoint (default 1).", minimum: Limits.initialInstanceCount.lowerBound,
                                                            maximum: Limits.initialInstanceCount.upperBound))),
                                                .optional(
                                                    "endpointName",
                                                    .string(
                                                        .init(
                                                            "Endpoint name; defaults to the deployment's name.", pattern: Syntax.sageMakerNamePattern,
                                                            maxLength: 63))),
                                                .optional(
                                                    "endpointURL",
                                                    .string(
                                                        .init(
                                                            "SageMaker API URL for emulators and VPC endpoints (default: AWS_ENDPOINT_URL_SAGEMAKER, AWS_ENDPOINT_URL, then the region's).",
                                                            pattern: "^https?://[^@/?#\\s]+(/[^?#\\s]*)?$", maxLength: 2048))),
                                                .optional(
                                                    "trafficRouting",
                                                    .object(
                                                        ObjectSchema(
                                                            "BlueGreen only: how SageMaker shifts traffic to a new revision.",
                                                            properties: [
                                                                .required(
                                                                    "type",
                                                                    .string(
                                                                        .init(
                                                                            "AllAtOnce, Canary or Linear.",
                                                                            enum: SageMaker.TrafficRouting.Kind.allCases.map(\.rawValue)))),
                                                                .optional(
                                                                    "stepPercent",
                                                                    .integer(
                                                                        .init(
                                                                            "Canary and Linear: share of capacity per step, in percent.",
                                                                            minimum: Limits.stepPercent.lowerBound, maximum: Limits.stepPercent.upperBound))),
                                                                .optional(
                                                                    "waitIntervalSeconds",
                                                                    .integer(
                                                                        .init(
                                                                            "Seconds between steps (default 0).",
                                                                            minimum: Limits.waitIntervalSeconds.lowerBound,
                                                                            maximum: Limits.waitIntervalSeconds.upperBound))),
                                                            ],
                                                            rules: [
                                                                .init(
                                                                    rule: "self.type == 'AllAtOnce' ? !has(self.stepPercent) : has(self.stepPercent)",
                                                                    message: "stepPercent is required for Canary and Linear, and not allowed for AllAtOnce",
                                                                    fieldPath: ".stepPercent")
                                                            ]))),
                                                .optional(
                                                    "rollbackAlarms",
                                                    .array(
                                                        items: .string(.init("A CloudWatch alarm name.", minLength: 1, maxLength: 255)),
                                                        description: "BlueGreen only: CloudWatch alarms that make SageMaker roll an update back.",
                                                        maxItems: Limits.rollbackAlarms)),
                                            ]
                                        ))),
                            ],
                            rules: [
                                .init(
                                    rule: "(has(self.triton) ? 1 : 0) + (has(self.sagemaker) ? 1 : 0) == 1",
                                    message: "exactly one of triton, sagemaker must be set", fieldPath: nil)
                            ]
                        ))),
                .optional(
                    "rollout",
                    default: [:],
                    .object(
                        ObjectSchema(
                            "How a new revision replaces the serving one.",
                            properties: [
                                .optional(
                                    "strategy", default: .string(Defaults.strategy.rawValue),
                                    .string(.init("Immediate (default), BlueGreen or Canary.", enum: Rollout.Strategy.allCases.map(\.rawValue)))),
                                .optional(
                                    "canary",
                                    .object(
                                        ObjectSchema(
                                            "Canary only: the steps traffic moves to the new version in.",
                                            properties: [
                                                .required(
                                                    "steps",
                                                    .array(
                                                        items: .object(
                                                            ObjectSchema(
                                                                "One step: setWeight, pause or analysis.",
                                                                properties: [
                                                                    .optional(
                                                                        "setWeight",
                                                                        .integer(
                                                                            .init(
                                                                                "Percent of requests the canary takes from this step on.",
                                                                                minimum: Limits.canaryWeight.lowerBound, maximum: Limits.canaryWeight.upperBound
                                                                            ))),
                                                                    .optional(
                                                                        "pause",
                                                                        .object(
                                                                            ObjectSchema(
                                                                                "Wait: for duration, or without one until `modelplane promote`.",
                                                                                properties: [
                                                                                    .optional(
                                                                                        "duration",
                                                                                        .string(
                                                                                            .init(
                                                                                                "How long, as 30s, 5m, 1h30m.", pattern: Syntax.durationPattern,
                                                                                                maxLength: 32)))
                                                                                ]))),
                                                                    .optional("analysis", stepAnalysisSchema),
                                                                ],
                                                                rules: [
                                                                    .init(
                                                                        rule:
                                                                            "(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0) + (has(self.analysis) ? 1 : 0) == 1",
                                                                        message: "a step is exactly one of setWeight, pause, analysis", fieldPath: nil)
                                                                ])),
                                                        description: "In order; after the last, the canary takes every request and becomes stable.",
                                                        maxItems: Limits.canarySteps)),
                                                .optional("analysis", canaryAnalysisSchema),
                                            ],
                                            rules: canaryAnalysisRules))),
                                .optional("blueGreen", blueGreenSchema),
                                .optional(
                                    "progressDeadlineSeconds", default: .int(Defaults.progressDeadlineSeconds),
                                    .integer(
                                        .init(
                                            "Seconds a new revision may take to become ready (default 600).",
                                            minimum: Limits.progressDeadlineSeconds.lowerBound, maximum: Limits.progressDeadlineSeconds.upperBound))),
                                .optional(
                                    "smokeInference",
                                    .freeform(
                                        description:
                                            "A KServe v2 inference request (inputs, optional outputs) a new version must answer before it serves; otherwise it is unloaded again."
                                    )),
                            ]
                        ))),
                .optional(
                    "revisionHistoryLimit", default: .int(Defaults.revisionHistoryLimit),
                    .integer(
                        .init(
                            "Old revisions kept for rollback (default 10).", minimum: Limits.revisionHistoryLimit.lowerBound,
                            maximum: Limits.revisionHistoryLimit.upperBound))),
                .optional(
                    "shadow",
                    .object(
                        ObjectSchema(
                            "A version loaded beside the serving one that receives a copy of requests; its answers are compared, never returned.",
                            properties: [
                                .required(
                                    "version",
                                    .string(.init("The shadow version.", pattern: "^[A-Za-z0-9._-]+$", minLength: 1, maxLength: Limits.versionMaxLength))),
                                .optional(
                                    "percent", default: .int(100),
                                    .integer(.init("Percent of requests mirrored (default 100).", minimum: 1, maximum: 100))),
                                .optional(
                                    "uri",
                                    .string(
                                        .init(
                                            "SageMaker only: the shadow version's artifact (s3://), made into its own Model; Triton loads the shadow version from the model's repository.",
                                            minLength: 1, maxLength: Limits.uriMaxLength))),
                                .optional("compare", compareSchema),
                            ]))),
                .optional(
                    "capture",
                    .object(
                        ObjectSchema(
                            "Sampled requests with their answers, written by the inference router as JSON lines under its data directory.",
                            properties: [
                                .required(
                                    "sampleRate",
                                    .number(.init("The share of requests written: above 0, at most 1 (0.01: one in a hundred).", minimum: 0, maximum: 1))),
                                .optional(
                                    "maxBytes",
                                    .string(
                                        .init(
                                            "The most the capture files take together (64Mi by default; bytes, or Ki, Mi, Gi); the oldest go first.",
                                            pattern: "^[1-9][0-9]*(Ki|Mi|Gi|k|M|G)?$", maxLength: 24))),
                            ],
                            rules: [.init(rule: "self.sampleRate > 0.0", message: "sampleRate must be above 0", fieldPath: ".sampleRate")]))),
            ],
            rules: [
                .init(
                    rule: "!has(self.backend.triton) || self.model.version.matches('^[1-9][0-9]{0,17}$')",
                    message: "Triton model versions are positive integers", fieldPath: ".model.version"),
                .init(
                    rule: "!has(self.backend.sagemaker) || !has(self.model.uri) || self.model.uri.startsWith('s3://')",
                    message: "for SageMaker, model.uri is an s3:// URL", fieldPath: ".model.uri"),
                .init(
                    rule:
                        "!has(self.backend.sagemaker) || (!has(self.backend.sagemaker.trafficRouting) && !has(self.backend.sagemaker.rollbackAlarms)) || (has(self.rollout) && has(self.rollout.strategy) && self.rollout.strategy == 'BlueGreen')",
                    message: "trafficRouting and rollbackAlarms apply only when rollout.strategy is BlueGreen", fieldPath: ".backend.sagemaker"),
                .init(
                    rule: "!has(self.rollout) || !has(self.rollout.canary) || (has(self.rollout.strategy) && self.rollout.strategy == 'Canary')",
                    message: "canary applies only when rollout.strategy is Canary", fieldPath: ".rollout.canary"),
                .init(
                    rule: "!has(self.rollout) || !has(self.rollout.blueGreen) || (has(self.rollout.strategy) && self.rollout.strategy == 'BlueGreen')",
                    message: "blueGreen applies only when rollout.strategy is BlueGreen", fieldPath: ".rollout.blueGreen"),
                .init(
                    rule: "!has(self.backend.sagemaker) || !has(self.rollout) || !has(self.rollout.blueGreen)",
                    message: "SageMaker's BlueGreen rolls back by its rollbackAlarms; for analysis use strategy Canary", fieldPath: ".rollout.blueGreen"),
                .init(
                    rule: "!has(self.shadow) || self.shadow.version != self.model.version",
                    message: "the shadow version must differ from model.version", fieldPath: ".shadow.version"),
                .init(
                    rule: "!has(self.shadow) || !has(self.backend.triton) || self.shadow.version.matches('^[1-9][0-9]{0,17}$')",
                    message: "Triton model versions are positive integers", fieldPath: ".shadow.version"),
                .init(
                    rule: "!has(self.shadow) || !has(self.backend.sagemaker) || has(self.shadow.uri)",
                    message: "SageMaker needs the shadow version's artifact to make its Model", fieldPath: ".shadow.uri"),
                .init(
                    rule: "!has(self.shadow) || !has(self.backend.sagemaker) || !has(self.shadow.uri) || self.shadow.uri.startsWith('s3://')",
                    message: "for SageMaker, shadow.uri is an s3:// URL", fieldPath: ".shadow.uri"),
                .init(
                    rule: "!has(self.shadow) || !has(self.backend.sagemaker) || !has(self.shadow.compare)",
                    message: "SageMaker does not return the shadow's answers, so none are compared", fieldPath: ".shadow.compare"),
                .init(
                    rule: "!has(self.shadow) || !has(self.backend.triton) || !has(self.shadow.uri)",
                    message: "Triton loads the shadow version from the model's repository", fieldPath: ".shadow.uri"),
                .init(
                    rule:
                        "!has(self.backend.sagemaker) || !has(self.rollout) || !has(self.rollout.canary) || self.rollout.canary.steps.all(s, !has(s.analysis) || !has(s.analysis.shadow))",
                    message: "a shadow gate needs the router to mirror requests, which it does for Triton only", fieldPath: ".rollout.canary.steps"),
            ]
        ))

    static let statusSchema: Schema = .object(
        ObjectSchema(
            "Observed state, written by the controller.",
            properties: [
                .optional("observedGeneration", .integer(.init("The metadata.generation the status describes.", minimum: 0))),
                .optional("phase", .string(.init("Pending, Progressing, Ready, Degraded or Failed.", enum: Phase.allCases.map(\.rawValue)))),
                .optional("servingVersion", .string(.init("The model version serving now."))),
                .optional("currentRevision", .string(.init("Hash of the serving-relevant spec that is current."))),
                .optional("backend", .string(.init("The backend kind, for display."))),
                .optional("conditions", .array(items: Condition.schema, description: "Ready, Progressing, Degraded, ...", maxItems: 32)),
                .optional(
                    "revisions",
                    .array(
                        items: .object(
                            ObjectSchema(
                                "One serving-relevant spec, as it was.",
                                properties: [
                                    .required("revision", .integer(.init("1, 2, 3, ... per deployment.", minimum: 1))),
                                    .required("hash", .string(.init("Hash of the serving-relevant spec."))),
                                    .required("version", .string(.init("The model version."))),
                                    .required("createdAt", .string(.init("When the revision was made.", format: "date-time"))),
                                    .required("cause", .string(.init("Why: the modelplane.dev/change-cause annotation, or the generation."))),
                                    .required("spec", .freeform(description: "The serving-relevant spec (model and backend) a rollback restores.")),
                                ])), description: "Revisions, oldest first: the current one and at most spec.revisionHistoryLimit before it.",
                        maxItems: Int(Limits.revisionHistoryLimit.upperBound) + 1)),
                .optional(
                    "triton",
                    .object(
                        ObjectSchema(
                            "The Triton model this deployment serves, and who loaded it (only what Modelplane loaded is unloaded on deletion).",
                            properties: [
                                .required("url", .string(.init("Triton's base URL."))),
                                .required("model", .string(.init("The model's name on Triton."))),
                                .optional(
                                    "origin",
                                    .string(
                                        .init(
                                            "Loaded: Modelplane loaded it, and unloads it on deletion. Adopted: it was already serving when the deployment found it, and is left loaded on deletion. Absent: Loaded.",
                                            enum: ModelDeployment.TritonRecord.Origin.allCases.map(\.rawValue)))),
                            ]))),
                .optional(
                    "sagemaker",
                    .object(
                        ObjectSchema(
                            "What Modelplane created on SageMaker for this deployment (and only this is deleted on deletion).",
                            properties: [
                                .required("region", .string(.init("AWS region."))),
                                .optional("endpointURL", .string(.init("The SageMaker API URL used, if not the region's."))),
                                .required("endpoint", .string(.init("The endpoint's name."))),
                                .required(
                                    "resources",
                                    .array(
                                        items: .object(
                                            ObjectSchema(
                                                "A Model and the EndpointConfig of the same name.",
                                                properties: [
                                                    .required("name", .string(.init("Model and EndpointConfig name."))),
                                                    .required("version", .string(.init("The model version they serve."))),
                                                ])), description: "Created models and endpoint configs, oldest first.", maxItems: nil)),
                                .optional("pendingConfig", .string(.init("The config SageMaker is moving the endpoint to."))),
                                .optional(
                                    "splitConfigs",
                                    .array(
                                        items: .string(.init("An EndpointConfig name.")),
                                        description: "Endpoint configs of several weighted production variants (a canary's), which own no model.",
                                        maxItems: nil)),
                                .optional(
                                    "shadowConfigs",
                                    .array(
                                        items: .object(
                                            ObjectSchema(
                                                "An EndpointConfig of a serving version's variant and a shadow variant.",
                                                properties: [
                                                    .required("name", .string(.init("EndpointConfig name."))),
                                                    .required("version", .string(.init("The version its production variant serves."))),
                                                ])), description: "Endpoint configs with a shadow variant, which own no model.", maxItems: nil)),
                                .optional(
                                    "shadowModels",
                                    .array(
                                        items: .object(
                                            ObjectSchema(
                                                "A Model made for a shadow version.",
                                                properties: [
                                                    .required("name", .string(.init("Model name."))),
                                                    .required("version", .string(.init("The shadow version."))),
                                                ])), description: "Models made for shadow versions (spec.shadow.uri).", maxItems: nil)),
                            ]))),
                .optional(
                    "extensions",
                    .map(
                        values: .freeform(description: "One backend's record."),
                        description: "What backends beyond the built-in ones hold for this deployment, by backend name.")),
                .optional(
                    "traffic",
                    .array(
                        items: .object(
                            ObjectSchema(
                                "A version that takes requests (or a mirror of them).",
                                properties: [
                                    .optional("revision", .string(.init("The revision the version belongs to."))),
                                    .required("version", .string(.init("The backend's version."))),
                                    .required(
                                        "weight",
                                        .integer(.init("Share of requests (of all stable and canary weights); for a shadow, percent mirrored.", minimum: 0))),
                                    .required(
                                        "role",
                                        .string(.init("stable, canary or shadow.", enum: ModelDeployment.TrafficTarget.Role.allCases.map(\.rawValue)))),
                                ])),
                        description: "The routing table the inference router follows, published by the controller.", maxItems: 16)),
                .optional("trafficSummary", .string(.init("The routing table in one line, for kubectl get: 2:90 3:10 +4 shadow."))),
                .optional(
                    "canary",
                    .object(
                        ObjectSchema(
                            "The canary in progress (or aborted).",
                            properties: [
                                .required("stableVersion", .string(.init("The version the canary replaces."))),
                                .optional("stableRevision", .string(.init("Its revision."))),
                                .required("canaryVersion", .string(.init("The new version."))),
                                .optional("canaryRevision", .string(.init("Its revision."))),
                                .required(
                                    "phase",
                                    .string(.init("Loading, Progressing, Paused or Aborted.", enum: CanaryStatus.Phase.allCases.map(\.rawValue)))),
                                .required("step", .integer(.init("The step being carried out, from 0; the number of steps once all are done.", minimum: 0))),
                                .optional("stepStartedAt", .string(.init("When the current step began.", format: "date-time"))),
                                .required("weight", .integer(.init("Percent of requests the canary takes now.", minimum: 0, maximum: 100))),
                                .optional("message", .string(.init("Why it waits or stopped."))),
                                .optional("lastRequest", .string(.init("The last modelplane promote/abort/retry request acted on."))),
                                .optional("lastRequestRefused", .string(.init("Why that request did not apply, if it did not."))),
                                .optional("startedAt", .string(.init("When this attempt began (the canary started or was retried)."))),
                            ]))),
                .optional(
                    "shadow",
                    .object(
                        ObjectSchema(
                            "How the shadow version's answers compare with the primary's.",
                            properties: [
                                .required("version", .string(.init("The shadow version."))),
                                .required("since", .string(.init("When these figures started.", format: "date-time"))),
                                .required("mirrored", .integer(.init("Requests copied to the shadow.", minimum: 0))),
                                .required("dropped", .integer(.init("Copies dropped because the shadow's queue was full.", minimum: 0))),
                                .required("compared", .integer(.init("Copies whose answer was compared.", minimum: 0))),
                                .optional("agreement", .number(.init("Share of compared answers that agree.", minimum: 0, maximum: 1))),
                                .optional("meanAbsDiff", .number(.init("Mean absolute difference of the compared output.", minimum: 0))),
                                .required("errors", .integer(.init("Copies the shadow answered with an error, or not at all.", minimum: 0))),
                                .optional(
                                    "latency",
                                    .object(
                                        ObjectSchema(
                                            "Latency on the mirrored requests, in milliseconds.",
                                            properties: [
                                                .required("primaryP50Ms", .number(.init("The primary's median.", minimum: 0))),
                                                .required("primaryP99Ms", .number(.init("The primary's 99th percentile.", minimum: 0))),
                                                .required("shadowP50Ms", .number(.init("The shadow's median.", minimum: 0))),
                                                .required("shadowP99Ms", .number(.init("The shadow's 99th percentile.", minimum: 0))),
                                            ]))),
                            ]))),
                .optional("analysis", analysisStatusSchema),
            ]
        ))
}
