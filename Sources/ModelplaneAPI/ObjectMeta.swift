/// `metav1.ObjectMeta`: the metadata every Kubernetes object carries. Fields the server sets
/// (uid, resourceVersion, generation, timestamps) are optional so manifests can leave them out.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var finalizers: [String]?
    public var ownerReferences: [OwnerReference]?
    /// Kept opaque: written by servers doing server-side apply; we round-trip it untouched.
    public var managedFields: [JSONValue]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }

    /// The schema the manifest reader checks `metadata` against (the CRD leaves metadata opaque).
    public static let schema = Schema.object(
        ObjectSchema(
            "Standard object metadata.",
            properties: [
                .optional("name", .string(.init("Name, unique within the namespace.", maxLength: 253))),
                .optional("generateName", .string(.init("Prefix for a server-generated name."))),
                .optional("namespace", .string(.init("Namespace of the object.", maxLength: 63))),
                .optional("uid", .string(.init("Set by the server."))),
                .optional("resourceVersion", .string(.init("Set by the server; opaque."))),
                .optional("generation", .integer(.init("Set by the server."))),
                .optional("creationTimestamp", .string(.init("Set by the server.", format: "date-time"))),
                .optional("deletionTimestamp", .string(.init("Set by the server.", format: "date-time"))),
                .optional("deletionGracePeriodSeconds", .integer(.init("Set by the server."))),
                .optional("labels", .map(values: .string(.init("Label value.", maxLength: 63)), description: "Labels.")),
                .optional("annotations", .map(values: .string(.init("Annotation value.")), description: "Annotations.")),
                .optional("finalizers", .array(items: .string(.init("Finalizer name.")), description: "Finalizers.", maxItems: nil)),
                .optional(
                    "ownerReferences",
                    .array(
                        items: .object(
                            ObjectSchema(
                                "An object this one belongs to.",
                                properties: [
                                    .required("apiVersion", .string(.init("The owner's API version."))),
                                    .required("kind", .string(.init("The owner's kind."))),
                                    .required("name", .string(.init("The owner's name."))),
                                    .required("uid", .string(.init("The owner's uid."))),
                                    .optional("controller", .boolean(description: "Whether the owner is the managing controller.")),
                                    .optional("blockOwnerDeletion", .boolean(description: "Whether the owner waits for this object's deletion.")),
                                ])), description: "Owners.", maxItems: nil)),
                .optional(
                    "managedFields",
                    .array(items: .freeform(description: "Managed fields entry."), description: "Server-side apply bookkeeping.", maxItems: nil)),
            ],
            opaqueInCRD: true
        ))
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil, blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// A status condition following Kubernetes conventions (`metav1.Condition`).
public struct Condition: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, Hashable {
        case `true` = "True"
        case `false` = "False"
        case unknown = "Unknown"
    }

    public var type: String
    public var status: Status
    public var observedGeneration: Int64?
    /// RFC 3339; changes only when `status` flips.
    public var lastTransitionTime: String
    /// CamelCase, machine-readable.
    public var reason: String
    public var message: String

    public init(type: String, status: Status, observedGeneration: Int64? = nil, lastTransitionTime: String, reason: String, message: String) {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }

    static let schema = Schema.object(
        ObjectSchema(
            "A status condition (metav1.Condition).",
            properties: [
                .required("type", .string(.init("Condition type, e.g. Ready.", maxLength: 316))),
                .required("status", .string(.init("True, False or Unknown.", enum: ["True", "False", "Unknown"]))),
                .optional("observedGeneration", .integer(.init("The generation the condition was set for.", minimum: 0))),
                .required("lastTransitionTime", .string(.init("When status last changed.", format: "date-time"))),
                .required("reason", .string(.init("CamelCase reason.", maxLength: 1024))),
                .required("message", .string(.init("Human-readable detail.", maxLength: 32768))),
            ]
        ))
}

extension Array where Element == Condition {
    public subscript(type type: String) -> Condition? { first { $0.type == type } }
}
