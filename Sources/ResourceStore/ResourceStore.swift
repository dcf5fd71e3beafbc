public import Foundation
public import ModelplaneAPI
import Synchronization

/// A change, as watchers see it.
public struct StoredEvent: Sendable {
    public enum EventType: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        /// Progress only: every change up to `resourceVersion` has been delivered.
        case bookmark = "BOOKMARK"
    }

    public var type: EventType
    public var object: JSONValue
    public var resourceVersion: Int64
    /// `object`'s canonical JSON, as stored: watchers send it without encoding the object again
    /// (once per watcher, per event, it was). Nil for bookmarks.
    public var json: String?

    public init(type: EventType, object: JSONValue, resourceVersion: Int64, json: String? = nil) {
        self.type = type
        self.object = object
        self.resourceVersion = resourceVersion
        self.json = json
    }
}

/// An object with its JSON text, kept together so lists and watches never re-encode.
public struct StoredObject: Sendable {
    public var object: JSONValue
    /// Canonical JSON of `object`.
    public var json: String

    init(_ object: JSONValue) {
        self.object = object
        json = object.canonicalText
    }

    init(object: JSONValue, json: String) {
        self.object = object
        self.json = json
    }
}

/// One page of a list.
public struct StoredList: Sendable {
    public var items: [StoredObject]
    public var resourceVersion: String
    public var continueToken: String?
    public var remainingItemCount: Int?
}

/// What a delete did.
public enum DeleteOutcome: Sendable {
    /// The object is gone; this is its last state.
    case deleted(JSONValue)
    /// Finalizers hold it: it now has a deletionTimestamp and goes once they are removed.
    case pending(JSONValue)
}

/// Which objects a list or watch wants.
public struct ObjectFilter: Sendable {
    public var namespace: String?
    public var labels: LabelSelector?
    public var fields: FieldSelector?

    public init(namespace: String? = nil, labels: LabelSelector? = nil, fields: FieldSelector? = nil) {
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
    }

    func matches(_ object: JSONValue) -> Bool {
        let metadata = object["metadata"]
        if let namespace, metadata?["namespace"]?.stringValue ?? "" != namespace { return false }
        if let labels {
            var map: [String: String] = [:]
            for (key, value) in metadata?["labels"]?.objectValue ?? [:] { map[key] = value.stringValue }
            if !labels.matches(map) { return false }
        }
        if let fields {
            return fields.matches { path in
                var value: JSONValue? = object
                for part in path.split(separator: ".") { value = value?[String(part)] }
                return value?.stringValue
            }
        }
        return true
    }
}

/// A durable object store with Kubernetes API semantics, over SQLite.
///
/// - One global, monotonically increasing resourceVersion (like etcd's revision), persisted, so a
///   restart continues without reuse.
/// - Every write is one SQLite transaction (WAL): once a call returns, the write survives the
///   process being killed.
/// - Creates set uid, creationTimestamp and generation 1 (and drop status where the type has a
///   status subresource); updates check resourceVersion (409 when stale), bump generation only
///   when something outside metadata and status changes, and change nothing at all when nothing
///   changed; deletes honour finalizers and preconditions.
/// - A history of recent changes backs watches from a resourceVersion; older ones get 410 Expired.
///
/// Objects are held in memory too (reads never touch the disk); the database is read at start.
public final class ResourceStore: Sendable {
    private let state: SleepingMutex<State>
    private let now: @Sendable () -> Date

    /// How many changes the watch history keeps before compacting.
    public let historyLimit: Int64

    public init(path: String, historyLimit: Int64 = 10_000, now: @escaping @Sendable () -> Date = Date.init) throws(StoreError) {
        self.historyLimit = historyLimit
        self.now = now
        do {
            state = SleepingMutex(try State(path: path, historyLimit: historyLimit))
        } catch {
            throw .storage(error)
        }
    }

    /// The newest resourceVersion.
    public var resourceVersion: String { String(state.withLock { $0.resourceVersion }) }

    /// How many watches are open (each ends when its consumer stops iterating).
    public var watcherCount: Int { state.withLock { $0.subscribers.count } }

    // MARK: - Reads

    public func get(_ type: ResourceType, namespace: String?, name: String) throws(StoreError) -> JSONValue {
        let key = Self.key(type, namespace, name)
        guard let stored = state.withLock({ $0.objects[type.description]?[key] }) else { throw .notFound(type, name) }
        return stored.object
    }

    /// Objects in (namespace, name) order. `continueToken` resumes after the previous page; a
    /// token older than the watch history is refused with 410, as Kubernetes does.
    public func list(_ type: ResourceType, filter: ObjectFilter = ObjectFilter(), limit: Int? = nil, continueToken: String? = nil) throws(StoreError)
        -> StoredList
    {
        var after: String?
        var listVersion: Int64?
        if let continueToken, !continueToken.isEmpty {
            guard let token = ContinueToken(continueToken) else { throw .badRequest("invalid continue token") }
            after = token.after
            listVersion = token.resourceVersion
        }
        return try state.withLock { (state) throws(StoreError) -> StoredList in
            if let listVersion, listVersion < state.compactedThrough {
                throw .expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            }
            let version = listVersion ?? state.resourceVersion
            let objects = state.objects[type.description] ?? [:]
            var keys = Array(objects.keys)
            if let namespace = filter.namespace { keys = keys.filter { $0.hasPrefix(namespace + "/") } }
            keys.sort()
            if let after, let index = keys.firstIndex(where: { $0 > after }) {
                keys = Array(keys[index...])
            } else if after != nil {
                keys = []
            }
            var items: [StoredObject] = []
            var lastKey: String?
            var remaining = 0
            for key in keys {
                let object = objects[key]!
                guard filter.matches(object.object) else { continue }
                if let limit, limit > 0, items.count >= limit {
                    remaining += 1
                    continue
                }
                items.append(object)
                lastKey = key
            }
            let token = remaining > 0 ? lastKey.map { ContinueToken(resourceVersion: version, after: $0).encoded } : nil
            return StoredList(items: items, resourceVersion: String(version), continueToken: token, remainingItemCount: remaining > 0 ? remaining : nil)
        }
    }

    // MARK: - Writes

    public func create(_ type: ResourceType, namespace: String?, _ object: JSONValue) throws(StoreError) -> JSONValue {
        try createStored(type, namespace: namespace, object).object
    }

    /// `create`, returning the stored object with its JSON text, which the API server sends as is.
    public func createStored(_ type: ResourceType, namespace: String?, _ object: JSONValue) throws(StoreError) -> StoredObject {
        guard case .object = object else { throw .badRequest("the request body must be a JSON object") }
        var object = object
        var metadata = object["metadata"] ?? [:]
        if object["apiVersion"] == nil { object["apiVersion"] = .string(type.apiVersion) }
        if object["kind"] == nil { object["kind"] = .string(type.kind) }
        guard object["apiVersion"] == .string(type.apiVersion), object["kind"] == .string(type.kind) else {
            throw .badRequest(
                "the object is a \(object["kind"]?.stringValue ?? "?") (\(object["apiVersion"]?.stringValue ?? "?")), not a \(type.kind) (\(type.apiVersion))")
        }
        let namespace = try Self.namespace(type, requested: namespace, inBody: metadata["namespace"]?.stringValue)
        if type.namespaced { metadata["namespace"] = .string(namespace) }
        if metadata["name"]?.stringValue?.isEmpty ?? true {
            guard let prefix = metadata["generateName"]?.stringValue, !prefix.isEmpty else {
                throw .invalid(type, "", [FieldError(.required, FieldPath("metadata.name"), "name or generateName is required")])
            }
            metadata["name"] = .string(prefix + Self.randomSuffix())
        }
        let name = metadata["name"]!.stringValue!
        metadata["uid"] = .string(Self.randomUID())
        metadata["creationTimestamp"] = .string(Self.timestamp(now()))
        metadata["generation"] = 1
        metadata["deletionTimestamp"] = nil
        metadata["deletionGracePeriodSeconds"] = nil
        object["metadata"] = metadata
        if type.statusSubresource { object["status"] = nil }

        return try state.withLock { (state) throws(StoreError) -> StoredObject in
            if state.objects[type.description]?[Self.key(type, namespace, name)] != nil { throw .alreadyExists(type, name) }
            return try write(&state, type, namespace: namespace, name: name, object: object, event: .added)
        }
    }

    public enum Subresource: Sendable { case main, status }

    /// Replaces an object (PUT). The object must carry the resourceVersion it was read at.
    public func update(_ type: ResourceType, namespace: String?, name: String, _ object: JSONValue, subresource: Subresource = .main) throws(StoreError)
        -> JSONValue
    {
        try updateStored(type, namespace: namespace, name: name, object, subresource: subresource).object
    }

    /// `update`, returning the stored object with its JSON text, which the API server sends as is.
    public func updateStored(_ type: ResourceType, namespace: String?, name: String, _ object: JSONValue, subresource: Subresource = .main)
        throws(StoreError) -> StoredObject
    {
        guard case .object = object else { throw .badRequest("the request body must be a JSON object") }
        let namespace = try Self.namespace(type, requested: namespace, inBody: object["metadata"]?["namespace"]?.stringValue)
        if let bodyName = object["metadata"]?["name"]?.stringValue, bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        return try state.withLock { (state) throws(StoreError) -> StoredObject in
            guard let stored = state.objects[type.description]?[Self.key(type, namespace, name)] else { throw .notFound(type, name) }
            let existing = stored.object
            guard let sent = object["metadata"]?["resourceVersion"]?.stringValue, !sent.isEmpty else {
                throw .invalid(type, name, [FieldError(.invalid, FieldPath("metadata.resourceVersion"), "must be specified for an update")])
            }
            guard sent == existing["metadata"]?["resourceVersion"]?.stringValue else {
                throw .conflict(type, name, "the object has been modified; please apply your changes to the latest version and try again")
            }
            var updated: JSONValue
            switch subresource {
            case .status:
                updated = existing
                updated["status"] = object["status"]
            case .main:
                updated = object
                var metadata = updated["metadata"] ?? [:]
                let old = existing["metadata"] ?? [:]
                for owned in ["uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
                    metadata[owned] = old[owned]
                }
                if old["deletionTimestamp"] != nil {
                    let before = Set(old["finalizers"]?.arrayStrings ?? [])
                    if let added = (metadata["finalizers"]?.arrayStrings ?? []).first(where: { !before.contains($0) }) {
                        throw .invalid(
                            type, name,
                            [
                                FieldError(
                                    .forbidden, FieldPath("metadata.finalizers"),
                                    "no new finalizers can be added if the object is being deleted, found new finalizers [\"\(added)\"]")
                            ])
                    }
                }
                updated["metadata"] = metadata
                updated["apiVersion"] = .string(type.apiVersion)
                updated["kind"] = .string(type.kind)
                if type.statusSubresource { updated["status"] = existing["status"] }
                if Self.specChanged(existing, updated) {
                    var generation: Int64 = 0
                    if case .int(let g)? = old["generation"] { generation = g }
                    updated["metadata"]?["generation"] = .int(generation + 1)
                }
            }
            updated["metadata"]?["resourceVersion"] = existing["metadata"]?["resourceVersion"]
            if updated == existing { return stored }  // a no-op write bumps nothing and emits nothing
            if updated["metadata"]?["deletionTimestamp"] != nil, updated["metadata"]?["finalizers"]?.arrayStrings?.isEmpty ?? true {
                return try write(&state, type, namespace: namespace, name: name, object: updated, event: .deleted)
            }
            return try write(&state, type, namespace: namespace, name: name, object: updated, event: .modified)
        }
    }

    public struct Preconditions: Sendable {
        public var uid: String?
        public var resourceVersion: String?
        public init(uid: String? = nil, resourceVersion: String? = nil) {
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }

    public func delete(_ type: ResourceType, namespace: String?, name: String, preconditions: Preconditions = Preconditions()) throws(StoreError)
        -> DeleteOutcome
    {
        let namespace = try Self.namespace(type, requested: namespace, inBody: nil)
        return try state.withLock { (state) throws(StoreError) -> DeleteOutcome in
            guard let existing = state.objects[type.description]?[Self.key(type, namespace, name)]?.object else { throw .notFound(type, name) }
            let metadata = existing["metadata"] ?? [:]
            if let uid = preconditions.uid, uid != metadata["uid"]?.stringValue {
                throw .conflict(type, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(metadata["uid"]?.stringValue ?? "")")
            }
            if let version = preconditions.resourceVersion, version != metadata["resourceVersion"]?.stringValue {
                throw .conflict(
                    type, name,
                    "Precondition failed: ResourceVersion in precondition: \(version), ResourceVersion in object meta: \(metadata["resourceVersion"]?.stringValue ?? "")"
                )
            }
            if !(metadata["finalizers"]?.arrayStrings ?? []).isEmpty {
                if metadata["deletionTimestamp"] != nil { return .pending(existing) }
                var marked = existing
                marked["metadata"]?["deletionTimestamp"] = .string(Self.timestamp(now()))
                marked["metadata"]?["deletionGracePeriodSeconds"] = 0
                return .pending(try write(&state, type, namespace: namespace, name: name, object: marked, event: .modified).object)
            }
            return .deleted(try write(&state, type, namespace: namespace, name: name, object: existing, event: .deleted).object)
        }
    }

    // MARK: - Watch

    /// Changes to objects matching `filter`: after `resourceVersion` (from the history; 410 if it
    /// has been compacted away), or, when it is nil or "0", a synthetic ADDED for every existing
    /// object first. The stream ends when the consumer stops iterating it.
    public func watch(_ type: ResourceType, filter: ObjectFilter = ObjectFilter(), from resourceVersion: String?) throws(StoreError) -> AsyncStream<StoredEvent>
    {
        let (stream, continuation) = AsyncStream.makeStream(of: StoredEvent.self)
        let id = try state.withLock { (state) throws(StoreError) -> Int in
            if let text = resourceVersion, !text.isEmpty, text != "0" {
                guard let from = Int64(text), from >= 0 else { throw .badRequest("invalid resourceVersion \"\(text)\"") }
                if from < state.compactedThrough {
                    throw .expired("too old resource version: \(from) (\(state.compactedThrough))")
                }
                do {
                    for event in try state.history(type, after: from) where filter.matches(event.object) {
                        continuation.yield(event)
                    }
                } catch {
                    throw .storage(error)
                }
            } else {
                let objects = state.objects[type.description] ?? [:]
                for key in objects.keys.sorted() where filter.matches(objects[key]!.object) {
                    continuation.yield(
                        StoredEvent(type: .added, object: objects[key]!.object, resourceVersion: state.resourceVersion, json: objects[key]!.json))
                }
            }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = Subscriber(resource: type.description, filter: filter, continuation: continuation)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Sends every watcher a bookmark at the current resourceVersion, in order with its events:
    /// a watcher that resumes from it misses nothing and skips what did not concern it.
    public func emitBookmarks() {
        state.withLock { state in
            for subscriber in state.subscribers.values {
                subscriber.continuation.yield(StoredEvent(type: .bookmark, object: [:], resourceVersion: state.resourceVersion))
            }
        }
    }

    // MARK: - Plumbing

    /// Writes one change in one transaction, then tells the watchers. Called under the lock.
    private func write(_ state: inout State, _ type: ResourceType, namespace: String, name: String, object: JSONValue, event: StoredEvent.EventType)
        throws(StoreError) -> StoredObject
    {
        let version = state.resourceVersion + 1
        var object = object
        object["metadata"]?["resourceVersion"] = .string(String(version))
        let key = Self.key(type, namespace, name)
        let previous = state.objects[type.description]?[key]?.object
        let stored = StoredObject(object)
        do {
            try state.commit(
                resource: type.description, key: key, stored: stored, deleted: event == .deleted, event: event, version: version)
        } catch {
            throw .storage(error)
        }
        if event == .deleted {
            state.objects[type.description]?[key] = nil
        } else {
            state.objects[type.description, default: [:]][key] = stored
        }
        for subscriber in state.subscribers.values where subscriber.resource == type.description {
            // A selector watch sees an object enter and leave its selection as ADDED and DELETED.
            let matchedBefore = previous.map(subscriber.filter.matches) ?? false
            let matchesNow = subscriber.filter.matches(object)
            let seen: StoredEvent.EventType?
            switch (event, matchedBefore, matchesNow) {
            case (.added, _, true): seen = .added
            case (.modified, true, true): seen = .modified
            case (.modified, false, true): seen = .added
            case (.modified, true, false): seen = .deleted
            case (.deleted, _, true), (.deleted, true, _): seen = .deleted
            default: seen = nil
            }
            if let seen { subscriber.continuation.yield(StoredEvent(type: seen, object: object, resourceVersion: version, json: stored.json)) }
        }
        return stored
    }

    static func key(_ type: ResourceType, _ namespace: String?, _ name: String) -> String {
        type.namespaced ? "\(namespace ?? "")/\(name)" : "/\(name)"
    }

    private static func namespace(_ type: ResourceType, requested: String?, inBody: String?) throws(StoreError) -> String {
        guard type.namespaced else { return "" }
        let namespace = requested ?? inBody ?? "default"
        if let inBody, !inBody.isEmpty, inBody != namespace {
            throw .badRequest("the namespace of the provided object (\(inBody)) does not match the namespace sent on the request (\(namespace))")
        }
        return namespace
    }

    /// Spec changes (anything outside metadata and status) are what bump generation.
    private static func specChanged(_ old: JSONValue, _ new: JSONValue) -> Bool {
        var a = old.objectValue ?? [:]
        var b = new.objectValue ?? [:]
        for ignored in ["metadata", "status"] {
            a[ignored] = nil
            b[ignored] = nil
        }
        return a != b
    }

    static func timestamp(_ date: Date) -> String { Timestamps.rfc3339(date) }

    /// A random (version 4) UUID in lowercase. Foundation's `UUID()` opens /dev/urandom on every
    /// call on Linux; the system generator is one getrandom call.
    static func randomUID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { Array($0) }
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}

struct Subscriber {
    var resource: String
    var filter: ObjectFilter
    var continuation: AsyncStream<StoredEvent>.Continuation
}

/// Where a paged list resumes: the list's resourceVersion and the last key returned.
struct ContinueToken {
    var resourceVersion: Int64
    var after: String

    init(resourceVersion: Int64, after: String) {
        self.resourceVersion = resourceVersion
        self.after = after
    }

    init?(_ encoded: String) {
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":"), let version = Int64(text[..<colon])
        else { return nil }
        resourceVersion = version
        after = String(text[text.index(after: colon)...])
    }

    var encoded: String { Data("\(resourceVersion):\(after)".utf8).base64EncodedString() }
}

extension JSONValue {
    var arrayStrings: [String]? {
        guard case .array(let items) = self else { return nil }
        return items.compactMap(\.stringValue)
    }
}
