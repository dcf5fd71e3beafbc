/// The schemas of the built-in kinds the embedded API server stores besides ModelDeployments
/// (coordination.k8s.io/v1 Lease, events.k8s.io/v1 Event), with the fields kube-apiserver's
/// documents give them. The server checks bodies against them (unknown fields, types, bounds)
/// and its OpenAPI documents are rendered from them, so the two cannot disagree.
extension Schema {
    static func int32(_ description: String, minimum: Int64 = Int64(Int32.min)) -> Schema {
        .integer(.init(description, minimum: minimum, maximum: Int64(Int32.max), format: "int32"))
    }

    static func text(_ description: String, maxLength: Int? = nil) -> Schema { .string(.init(description, maxLength: maxLength)) }

    /// `apiVersion`, `kind` and `metadata`, as every stored object has them.
    static func typeAndMetadata() -> [ObjectSchema.Property] {
        [
            .optional("apiVersion", text("The versioned schema of this object.")),
            .optional("kind", text("The kind of this object.")),
            .optional("metadata", ObjectMeta.schema),
        ]
    }
}

extension Lease {
    public static let schema = Schema.object(
        ObjectSchema(
            "A lease: a lock that leader election holds.",
            properties: Schema.typeAndMetadata() + [
                .optional(
                    "spec",
                    .object(
                        ObjectSchema(
                            "The lease's holder and timing.",
                            properties: [
                                .optional("holderIdentity", .text("Who holds the lease.")),
                                .optional("leaseDurationSeconds", .int32("How long others wait before taking the lease over.")),
                                .optional("acquireTime", .text("When the current holder took the lease (MicroTime).")),
                                .optional("renewTime", .text("When the holder last renewed it (MicroTime).")),
                                .optional("leaseTransitions", .int32("How often the lease changed hands.")),
                                .optional("strategy", .text("The strategy for picking a leader in coordinated leader election.")),
                                .optional("preferredHolder", .text("The holder the strategy prefers.")),
                            ])))
            ]))

    /// Structural problems of a Lease (unknown fields, types, ranges) and of its name.
    public static func problems(_ value: JSONValue) -> [FieldError] { Schema.structuralProblems(schema, value) }
}

extension Event {
    static let reference = Schema.object(
        ObjectSchema(
            "A reference to an object.",
            properties: ["apiVersion", "kind", "namespace", "name", "uid", "resourceVersion", "fieldPath"].map { .optional($0, .text("The object's \($0).")) }
        ))

    public static let schema = Schema.object(
        ObjectSchema(
            "Something that happened to an object, for `kubectl describe`.",
            properties: Schema.typeAndMetadata() + [
                .required("eventTime", .text("When the event was first observed (MicroTime).")),
                .optional(
                    "series",
                    .object(
                        ObjectSchema(
                            "How often the event repeated.",
                            properties: [
                                .required("count", .int32("How many times it has been seen.", minimum: 0)),
                                .required("lastObservedTime", .text("When it was last seen (MicroTime).")),
                            ]))),
                .optional("reportingController", .text("The controller that emitted the event.", maxLength: 253)),
                .optional("reportingInstance", .text("The instance of that controller.", maxLength: 128)),
                .optional("action", .text("What was done.", maxLength: 128)),
                .optional("reason", .text("Why.", maxLength: 128)),
                .optional("regarding", reference),
                .optional("related", reference),
                .optional("note", .text("Human-readable detail.", maxLength: 1024)),
                .optional("type", .text("Normal or Warning.")),
                .optional(
                    "deprecatedSource",
                    .object(ObjectSchema("The core/v1 source.", properties: [.optional("component", .text("Component.")), .optional("host", .text("Host."))]))),
                .optional("deprecatedFirstTimestamp", .text("core/v1 firstTimestamp.")),
                .optional("deprecatedLastTimestamp", .text("core/v1 lastTimestamp.")),
                .optional("deprecatedCount", .int32("core/v1 count.", minimum: 0)),
            ]))

    /// A core/v1 Event, as the read-only view of events.k8s.io/v1 ones shows it.
    public static let coreV1Schema = Schema.object(
        ObjectSchema(
            "An event as core/v1 shows it (read-only here: write events.k8s.io/v1 Events).",
            properties: Schema.typeAndMetadata() + [
                .optional("involvedObject", reference),
                .optional("related", reference),
                .optional("message", .text("Human-readable detail.")),
                .optional("reason", .text("Why.")),
                .optional("type", .text("Normal or Warning.")),
                .optional("action", .text("What was done.")),
                .optional("eventTime", .text("When it was first observed (MicroTime).")),
                .optional(
                    "series",
                    .object(
                        ObjectSchema(
                            "How often it repeated.",
                            properties: [.required("count", .int32("Times seen.", minimum: 0)), .required("lastObservedTime", .text("Last seen."))]))),
                .optional("reportingComponent", .text("The controller that emitted it.")),
                .optional("reportingInstance", .text("Its instance.")),
                .optional(
                    "source",
                    .object(ObjectSchema("Who reported it.", properties: [.optional("component", .text("Component.")), .optional("host", .text("Host."))]))),
                .optional("firstTimestamp", .text("When it was first seen.")),
                .optional("lastTimestamp", .text("When it was last seen.")),
                .optional("count", .int32("Times seen.", minimum: 0)),
            ]))

    /// Structural problems of an Event and of its name.
    public static func problems(_ value: JSONValue) -> [FieldError] { Schema.structuralProblems(schema, value) }
}

/// The name rules of the served kinds, as regular expressions, for documents that state them.
public enum NamePattern {
    /// A DNS-1123 label (at most 63 characters): ModelDeployment names and namespaces.
    public static let label = (pattern: Syntax.dns1123LabelPattern, maxLength: 63)
    /// A DNS-1123 subdomain (at most 253 characters): the other kinds' names.
    public static let subdomain = (pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", maxLength: 253)

    /// Whether `name` is a DNS-1123 label (a valid namespace name).
    public static func isLabel(_ name: String) -> Bool { Syntax.dns1123LabelProblem(name) == nil }
}

extension Schema {
    /// The schema's checks, then metadata's as for a ModelDeployment, but with a name that is a
    /// DNS-1123 subdomain.
    static func structuralProblems(_ schema: Schema, _ value: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        schema.check(value, into: &errors)
        guard errors.isEmpty else { return errors }
        // The schema has checked the types: read the fields straight from the JSON.
        let metadata = value["metadata"]
        var labels: [String: String] = [:]
        for (key, label) in metadata?["labels"]?.objectValue ?? [:] { labels[key] = label.stringValue }
        ModelDeployment.validateMetadata(
            name: metadata?["name"]?.stringValue, generateName: metadata?["generateName"]?.stringValue, namespace: metadata?["namespace"]?.stringValue,
            labels: labels, annotationKeys: Array((metadata?["annotations"]?.objectValue ?? [:]).keys),
            finalizers: metadata?["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? [], subdomainName: true, into: &errors)
        return errors
    }
}
