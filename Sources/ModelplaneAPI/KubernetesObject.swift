/// A Kubernetes API object type: where it lives in the API (group, version, plural) and its
/// metadata. The Kubernetes client is generic over this protocol.
public protocol KubernetesObject: Codable, Sendable {
    /// API group; empty for the core group.
    static var group: String { get }
    static var version: String { get }
    static var kind: String { get }
    /// The resource name in URLs (`modeldeployments`).
    static var plural: String { get }
    static var isNamespaced: Bool { get }
    var metadata: ObjectMeta { get set }
}

extension KubernetesObject {
    public static var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
}

extension ModelDeployment: KubernetesObject {
    public static var isNamespaced: Bool { true }
}

/// A reference to another object (`core/v1 ObjectReference`), as Events use it.
public struct ObjectReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var resourceVersion: String?
    public var fieldPath: String?

    public init(
        apiVersion: String? = nil, kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil, resourceVersion: String? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.resourceVersion = resourceVersion
    }
}

/// `coordination.k8s.io/v1` Lease: the lock leader election holds.
public struct Lease: KubernetesObject, Hashable {
    public static let group = "coordination.k8s.io"
    public static let version = "v1"
    public static let kind = "Lease"
    public static let plural = "leases"
    public static let isNamespaced = true

    public var apiVersion: String = Lease.apiVersion
    public var kind: String = Lease.kind
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int32?
        /// MicroTime, `2006-01-02T15:04:05.000000Z`.
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int32?

        public init(
            holderIdentity: String? = nil, leaseDurationSeconds: Int32? = nil, acquireTime: String? = nil, renewTime: String? = nil,
            leaseTransitions: Int32? = nil
        ) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `events.k8s.io/v1` Event: something that happened to an object, for `kubectl describe`.
public struct Event: KubernetesObject, Hashable {
    public static let group = "events.k8s.io"
    public static let version = "v1"
    public static let kind = "Event"
    public static let plural = "events"
    public static let isNamespaced = true

    public enum EventType: String, Codable, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    public struct Series: Codable, Sendable, Hashable {
        public var count: Int32
        public var lastObservedTime: String

        public init(count: Int32, lastObservedTime: String) {
            self.count = count
            self.lastObservedTime = lastObservedTime
        }
    }

    public var apiVersion: String = Event.apiVersion
    public var kind: String = Event.kind
    public var metadata: ObjectMeta
    /// MicroTime when the event was first observed.
    public var eventTime: String
    public var series: Series?
    public var reportingController: String
    public var reportingInstance: String
    /// What was done (`Load`, `Unload`, `Rollback`); CamelCase, at most 128 characters.
    public var action: String
    /// Why (`Loaded`, `LoadFailed`); CamelCase, at most 128 characters.
    public var reason: String
    public var regarding: ObjectReference
    public var related: ObjectReference?
    /// Human-readable, at most 1 kB.
    public var note: String?
    public var type: EventType

    public init(
        metadata: ObjectMeta, eventTime: String, reportingController: String, reportingInstance: String, action: String, reason: String,
        regarding: ObjectReference, note: String?, type: EventType
    ) {
        self.metadata = metadata
        self.eventTime = eventTime
        self.reportingController = reportingController
        self.reportingInstance = reportingInstance
        self.action = action
        self.reason = reason
        self.regarding = regarding
        self.note = note
        self.type = type
    }
}
