public import ModelplaneAPI

/// A kind of object the store holds, and the API rules that apply to it.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String
    public var plural: String
    public var namespaced: Bool
    /// With a status subresource, main-endpoint writes keep the stored status and `/status`
    /// writes change nothing else.
    public var statusSubresource: Bool

    public init(group: String, version: String, kind: String, plural: String, namespaced: Bool, statusSubresource: Bool) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
        self.statusSubresource = statusSubresource
    }

    public init<Object: KubernetesObject>(_ type: Object.Type, statusSubresource: Bool) {
        self.init(
            group: type.group, version: type.version, kind: type.kind, plural: type.plural, namespaced: type.isNamespaced, statusSubresource: statusSubresource)
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `modeldeployments.modelplane.dev`; the storage key.
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    public static let modelDeployments = ResourceType(ModelDeployment.self, statusSubresource: true)

    /// The schema whose defaults the API server fills at admission, for the types that declare
    /// any. An object stored before a default existed reads as if it had it (kube-apiserver
    /// defaults what it reads from etcd too), so its next write is not a spec change.
    public var admissionDefaults: Schema? { self == .modelDeployments ? ModelDeployment.schema : nil }
    public static let leases = ResourceType(Lease.self, statusSubresource: false)
    public static let events = ResourceType(Event.self, statusSubresource: false)
}

/// Why the store refused: the fields of a Kubernetes `Status`, so the API server can send it as is.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    /// A `metav1.StatusReason` (`NotFound`, `Conflict`, `Invalid`, `Expired`, ...).
    public var reason: String
    public var message: String
    public var causes: [FieldError]

    public init(code: Int, reason: String, message: String, causes: [FieldError] = []) {
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes
    }

    public var description: String { "\(code) \(reason): \(message)" }

    public static func notFound(_ type: ResourceType, _ name: String) -> StoreError {
        StoreError(code: 404, reason: "NotFound", message: "\(type) \"\(name)\" not found")
    }

    public static func alreadyExists(_ type: ResourceType, _ name: String) -> StoreError {
        StoreError(code: 409, reason: "AlreadyExists", message: "\(type) \"\(name)\" already exists")
    }

    public static func conflict(_ type: ResourceType, _ name: String, _ detail: String) -> StoreError {
        StoreError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(type) \"\(name)\": \(detail)")
    }

    public static func invalid(_ type: ResourceType, _ name: String, _ causes: [FieldError]) -> StoreError {
        StoreError(
            code: 422, reason: "Invalid", message: "\(type.kind).\(type.group) \"\(name)\" is invalid: " + causes.map(\.description).joined(separator: ", "),
            causes: causes)
    }

    public static func badRequest(_ message: String) -> StoreError { StoreError(code: 400, reason: "BadRequest", message: message) }

    public static func expired(_ message: String) -> StoreError { StoreError(code: 410, reason: "Expired", message: message) }

    public static func storage(_ error: any Error) -> StoreError {
        StoreError(code: 500, reason: "InternalError", message: "storage failure: \(error)")
    }
}
