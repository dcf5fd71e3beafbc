public import ModelplaneAPI

/// Options for LIST.
public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?
    public var continueToken: String?
    /// Unset: most recent (a consistent read); "0": any, possibly stale; N: not older than N.
    public var resourceVersion: String?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil, resourceVersion: String? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
    }
}

/// Options for WATCH.
public struct WatchOptions: Sendable {
    /// Changes after this version; unset or "0" starts with a synthetic ADDED for each object.
    public var resourceVersion: String?
    /// The server ends the watch after this many seconds (client-go picks 300–600 at random).
    public var timeoutSeconds: Int?
    public var allowWatchBookmarks = true
    public var labelSelector: String?
    public var fieldSelector: String?

    public init(
        resourceVersion: String? = nil, timeoutSeconds: Int? = nil, allowWatchBookmarks: Bool = true, labelSelector: String? = nil, fieldSelector: String? = nil
    ) {
        self.resourceVersion = resourceVersion
        self.timeoutSeconds = timeoutSeconds
        self.allowWatchBookmarks = allowWatchBookmarks
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }
}

/// One page of a LIST.
public struct ObjectList<Object: KubernetesObject>: Sendable {
    public var items: [Object]
    /// Watch from here to see every change after this list.
    public var resourceVersion: String
    /// Pass back as `ListOptions.continueToken` for the next page; nil on the last page.
    public var continueToken: String?
    public var remainingItemCount: Int64?
}

/// A partial update.
public enum Patch: Sendable {
    /// RFC 7386 (`application/merge-patch+json`): null deletes a field, arrays are replaced whole.
    case merge(JSONValue)
    /// RFC 6902 (`application/json-patch+json`), with `test` for optimistic checks.
    case json([JSONPatchOperation])
    /// Server-side apply (`application/apply-patch+yaml`, which JSON is): the manager owns the
    /// fields it sets; `force` takes fields other managers own.
    case apply(JSONValue, fieldManager: String, force: Bool)

    var contentType: String {
        switch self {
        case .merge: "application/merge-patch+json"
        case .json: "application/json-patch+json"
        case .apply: "application/apply-patch+yaml"
        }
    }
}

public struct JSONPatchOperation: Codable, Sendable, Hashable {
    public enum Operation: String, Codable, Sendable { case add, remove, replace, move, copy, test }

    public var op: Operation
    /// A JSON Pointer (RFC 6901): `/spec/model/version`, `/metadata/labels/app~1name`.
    public var path: String
    public var value: JSONValue?
    public var from: String?

    public init(_ op: Operation, _ path: String, value: JSONValue? = nil, from: String? = nil) {
        self.op = op
        self.path = path
        self.value = value
        self.from = from
    }
}

/// `metav1.DeleteOptions`.
public struct DeleteOptions: Codable, Sendable {
    public struct Preconditions: Codable, Sendable {
        public var uid: String?
        public var resourceVersion: String?
        public init(uid: String? = nil, resourceVersion: String? = nil) {
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }

    public enum PropagationPolicy: String, Codable, Sendable {
        case orphan = "Orphan"
        case background = "Background"
        case foreground = "Foreground"
    }

    public var kind = "DeleteOptions"
    public var apiVersion = "v1"
    public var preconditions: Preconditions?
    public var propagationPolicy: PropagationPolicy?
    public var gracePeriodSeconds: Int64?

    public init(preconditions: Preconditions? = nil, propagationPolicy: PropagationPolicy? = nil, gracePeriodSeconds: Int64? = nil) {
        self.preconditions = preconditions
        self.propagationPolicy = propagationPolicy
        self.gracePeriodSeconds = gracePeriodSeconds
    }
}
