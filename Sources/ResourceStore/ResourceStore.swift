public import Foundation
import Metrics
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
/// - Every write is committed to SQLite (WAL) before its answer: once a call returns (or its
///   `CommitTicket` is settled), the write survives the process being killed. Writes that arrive
///   while a commit runs share the next transaction (group commit), committed by one thread at a
///   time outside the lock; reads, lists and watches see only committed writes.
/// - Creates set uid, creationTimestamp and generation 1 (and drop status where the type has a
///   status subresource); updates check resourceVersion (409 when stale), bump generation only
///   when something outside metadata and status changes, and change nothing at all when nothing
///   changed; deletes honour finalizers and preconditions.
/// - A history of recent changes backs watches from a resourceVersion; older ones get 410 Expired.
///
/// Objects are held in memory too (reads never touch the disk); the database is read at start.
public final class ResourceStore: Sendable {
    private let state: SleepingMutex<State>
    private let storage: Storage
    /// Where commits run when no writer waits for them on its own thread.
    private let committerQueue = DispatchQueue(label: "modelplane.store.commit")
    private let now: @Sendable () -> Date
    /// The most changes one transaction takes.
    static let batchLimit = 512

    /// How many changes the watch history keeps before compacting.
    public let historyLimit: Int64

    public init(path: String, historyLimit: Int64 = 10_000, now: @escaping @Sendable () -> Date = Date.init) throws(StoreError) {
        self.historyLimit = historyLimit
        self.now = now
        let loaded: (objects: [String: [String: StoredObject]], resourceVersion: Int64)
        do {
            storage = try Storage(path: path)
            loaded = try storage.load()
        } catch {
            throw .storage(error)
        }
        state = SleepingMutex(State(objects: loaded.objects, resourceVersion: loaded.resourceVersion, historyLimit: historyLimit))
    }

    /// The newest committed resourceVersion.
    public var resourceVersion: String { String(state.withLock { $0.resourceVersion }) }

    /// How many watches are open (each ends when its consumer stops iterating).
    public var watcherCount: Int { state.withLock { $0.subscribers.count } }

    // MARK: - Reads

    /// The committed object; `uncommitted` (for a read-modify-write) includes writes applied but
    /// not yet committed, which the write will be checked against.
    public func get(_ type: ResourceType, namespace: String?, name: String, uncommitted: Bool = false) throws(StoreError) -> JSONValue {
        let key = Self.key(type, namespace, name)
        guard let stored = state.withLock({ uncommitted ? $0.latest(type.description, key) : $0.objects[type.description]?[key] }) else {
            throw .notFound(type, name)
        }
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
            // Sorted once per set of keys, not once per page: a client paging through 10,000
            // objects 500 at a time sorted and filtered all of them twenty times.
            let keys = state.sortedKeys(type.description)
            var range = keys.indices
            if let namespace = filter.namespace {
                // One namespace's keys ("namespace/name") sit together.
                let prefix = namespace + "/"
                let first = keys.partitioningIndex(in: range) { $0 >= prefix }
                range = first..<keys.partitioningIndex(in: first..<range.upperBound) { !$0.hasPrefix(prefix) }
            }
            if let after { range = keys.partitioningIndex(in: range) { $0 > after }..<range.upperBound }
            // Selectors are checked object by object; the namespace is already in the keys.
            let selective = filter.labels != nil || filter.fields != nil
            var items: [StoredObject] = []
            var lastKey: String?
            var more = false
            var remaining: Int?
            for index in range {
                let object = objects[keys[index]]!
                if selective, !filter.matches(object.object) { continue }
                if let limit, limit > 0, items.count >= limit {
                    more = true
                    // As kube-apiserver: how many remain is told only when no selector makes
                    // counting them cost a look at each.
                    if !selective { remaining = range.upperBound - index }
                    break
                }
                items.append(object)
                lastKey = keys[index]
            }
            let token = more ? lastKey.map { ContinueToken(resourceVersion: version, after: $0).encoded } : nil
            return StoredList(items: items, resourceVersion: String(version), continueToken: token, remainingItemCount: remaining)
        }
    }

    // MARK: - Writes

    public func create(_ type: ResourceType, namespace: String?, _ object: JSONValue) throws(StoreError) -> JSONValue {
        try createStored(type, namespace: namespace, object).object
    }

    /// `create`, returning the stored object with its JSON text, which the API server sends as is.
    public func createStored(_ type: ResourceType, namespace: String?, _ object: JSONValue) throws(StoreError) -> StoredObject {
        try createDeferred(type, namespace: namespace, object).committed()
    }

    /// `createStored`, answering before the commit: the answer holds only once its ticket is
    /// settled, and the write commits only once somebody waits on the ticket.
    ///
    /// `dryRun` (every write takes it, as kube-apiserver's `dryRun=All`): the write is decided
    /// as it would be, with every check, and answered with the object it would store, but nothing
    /// is applied: no resourceVersion, no watch event, nothing to commit. A dry-run create's
    /// answer has no resourceVersion; the others' carry the stored object's.
    public func createDeferred(_ type: ResourceType, namespace: String?, _ object: JSONValue, dryRun: Bool = false) throws(StoreError)
        -> Deferred<StoredObject>
    {
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
            metadata["name"] = .string(Self.generatedName(prefix))
        }
        let name = metadata["name"]!.stringValue!
        metadata["uid"] = .string(Self.randomUID())
        metadata["creationTimestamp"] = .string(Self.timestamp(now()))
        metadata["generation"] = 1
        metadata["deletionTimestamp"] = nil
        metadata["deletionGracePeriodSeconds"] = nil
        object["metadata"] = metadata
        if type.statusSubresource { object["status"] = nil }

        let prepared = PreparedWrite(object)
        return try writing(type, namespace: namespace, name: name, dryRun: dryRun) { (existing) throws(StoreError) in
            if existing != nil { throw .alreadyExists(type, name) }
            return .write(prepared, .added)
        }.map(\.stored)
    }

    public enum Subresource: Sendable { case main, status }

    /// Replaces an object (PUT). The object must carry the resourceVersion it was read at.
    /// Stores the schema's defaults in every object of `type` stored without them (written
    /// before a default existed), so every reader sees them, as kube-apiserver's readers do
    /// (it defaults what it reads from etcd). A spec that only gains defaults keeps its
    /// generation. Returns how many objects changed. `modelplane serve` runs it at start.
    @discardableResult
    public func storeAdmissionDefaults(_ type: ResourceType) throws(StoreError) -> Int {
        guard let defaults = type.admissionDefaults else { return 0 }
        var changed = 0
        for item in try list(type).items {
            var object = item.object
            defaults.applyDefaults(to: &object)
            guard object != item.object else { continue }
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            let namespace = type.namespaced ? object["metadata"]?["namespace"]?.stringValue : nil
            do {
                _ = try update(type, namespace: namespace, name: name, object)
                changed += 1
            } catch  where error.code == 409 || error.code == 404 {
                continue  // changed or gone meanwhile: its writer's request was defaulted
            }
        }
        return changed
    }

    public func update(_ type: ResourceType, namespace: String?, name: String, _ object: JSONValue, subresource: Subresource = .main) throws(StoreError)
        -> JSONValue
    {
        try updateStored(type, namespace: namespace, name: name, object, subresource: subresource).object
    }

    /// `update`, returning the stored object with its JSON text, which the API server sends as is.
    public func updateStored(_ type: ResourceType, namespace: String?, name: String, _ object: JSONValue, subresource: Subresource = .main)
        throws(StoreError) -> StoredObject
    {
        try updateDeferred(type, namespace: namespace, name: name, object, subresource: subresource).committed()
    }

    /// `updateStored`, answering before the commit (see `createDeferred`, also for `dryRun`).
    public func updateDeferred(
        _ type: ResourceType, namespace: String?, name: String, _ object: JSONValue, subresource: Subresource = .main, dryRun: Bool = false
    ) throws(StoreError) -> Deferred<StoredObject> {
        guard case .object = object else { throw .badRequest("the request body must be a JSON object") }
        let namespace = try Self.namespace(type, requested: namespace, inBody: object["metadata"]?["namespace"]?.stringValue)
        if let bodyName = object["metadata"]?["name"]?.stringValue, bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        return try writing(type, namespace: namespace, name: name, dryRun: dryRun) { (stored) throws(StoreError) -> WritePlan in
            guard let stored else { throw .notFound(type, name) }
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
                // Compared with their defaults: a default filled in is no spec change.
                var (before, after) = (existing, updated)
                if let defaults = type.admissionDefaults {
                    defaults.applyDefaults(to: &before)
                    defaults.applyDefaults(to: &after)
                }
                if Self.specChanged(before, after) {
                    var generation: Int64 = 0
                    if case .int(let g)? = old["generation"] { generation = g }
                    updated["metadata"]?["generation"] = .int(generation + 1)
                }
            }
            updated["metadata"]?["resourceVersion"] = existing["metadata"]?["resourceVersion"]
            // A no-op write bumps nothing and emits nothing (it waits for the change it shows).
            if updated == existing { return .unchanged(stored) }
            if updated["metadata"]?["deletionTimestamp"] != nil, updated["metadata"]?["finalizers"]?.arrayStrings?.isEmpty ?? true {
                return .write(PreparedWrite(updated), .deleted)
            }
            return .write(PreparedWrite(updated), .modified)
        }.map(\.stored)
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
        try deleteDeferred(type, namespace: namespace, name: name, preconditions: preconditions).committed()
    }

    /// `delete`, answering before the commit (see `createDeferred`, also for `dryRun`: a dry run
    /// held by finalizers answers `.pending` with the deletionTimestamp it would set).
    public func deleteDeferred(
        _ type: ResourceType, namespace: String?, name: String, preconditions: Preconditions = Preconditions(), dryRun: Bool = false
    ) throws(StoreError) -> Deferred<DeleteOutcome> {
        let namespace = try Self.namespace(type, requested: namespace, inBody: nil)
        return try writing(type, namespace: namespace, name: name, dryRun: dryRun) { (stored) throws(StoreError) -> WritePlan in
            guard let stored else { throw .notFound(type, name) }
            let existing = stored.object
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
                if metadata["deletionTimestamp"] != nil { return .unchanged(stored) }
                var marked = existing
                marked["metadata"]?["deletionTimestamp"] = .string(Self.timestamp(now()))
                marked["metadata"]?["deletionGracePeriodSeconds"] = 0
                return .write(PreparedWrite(marked), .modified)
            }
            return .write(PreparedWrite(existing), .deleted)
        }.map { written in written.event == .deleted ? .deleted(written.stored.object) : .pending(written.stored.object) }
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
                for key in state.sortedKeys(type.description) {
                    let stored = objects[key]!
                    guard filter.matches(stored.object) else { continue }
                    continuation.yield(StoredEvent(type: .added, object: stored.object, resourceVersion: state.resourceVersion, json: stored.json))
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
            // The committer may be sending a batch, outside the lock: it sends these after it.
            if state.committing {
                state.bookmarkPending = true
            } else {
                state.sendBookmarks()
            }
        }
    }

    // MARK: - Writes, decided outside the lock

    /// What a write does to one object, decided from the object as it stood.
    private enum WritePlan {
        /// Nothing changes: the answer is the object as it is, once its pending change commits.
        case unchanged(StoredObject)
        /// Writes this object (the store sets its resourceVersion) with this event.
        case write(PreparedWrite, StoredEvent.EventType)
    }

    /// A write's answer: the object as stored, and the event it made (nil when it changed nothing).
    private struct Written {
        var stored: StoredObject
        var event: StoredEvent.EventType?
    }

    /// Runs a write to one object. `plan` decides it from the object as it stands (nil: there is
    /// none) outside the lock: checks, merges, comparisons and the encoding of the new object,
    /// most of a write's cost, no longer hold up the other writers and the committer. Under the
    /// lock the write is applied only if the object is still the one it decided from (same
    /// version, no failed commit since); otherwise it decides again against the newer one.
    ///
    /// Nothing commits until somebody waits on the answer: a synchronous waiter commits on its
    /// own thread if nobody else is committing, an asynchronous one starts the committer queue.
    ///
    /// `dryRun` decides the write the same way and answers with what it would store, applying
    /// nothing; its ticket waits, as an unchanged write's does, for the change it decided from.
    private func writing(
        _ type: ResourceType, namespace: String, name: String, dryRun: Bool = false, _ plan: (StoredObject?) throws(StoreError) -> WritePlan
    ) throws(StoreError) -> Deferred<Written> {
        let resource = type.description
        let key = Self.key(type, namespace, name)
        if dryRun {
            let (seen, version, epoch) = state.withLock { ($0.latest(resource, key), $0.uncommittedVersion(resource, key), $0.epoch) }
            let written: Written
            switch try plan(seen) {
            case .unchanged(let stored):
                written = Written(stored: stored, event: nil)
            case .write(let prepared, let event):
                written = Written(stored: prepared.unstored(resourceVersion: seen?.object["metadata"]?["resourceVersion"]), event: event)
            }
            return Deferred(value: written, ticket: CommitTicket(store: self, version: version, epoch: epoch))
        }
        while true {
            let (seen, seenEpoch) = state.withLock { ($0.latest(resource, key), $0.epoch) }
            let decided = try plan(seen)
            let applied = state.withLock { (state) -> (Written, Int64, Int)? in
                let current = state.latest(resource, key)
                guard state.epoch == seenEpoch, current?.object["metadata"]?["resourceVersion"] == seen?.object["metadata"]?["resourceVersion"] else {
                    return nil
                }
                switch decided {
                case .unchanged(let stored):
                    return (Written(stored: stored, event: nil), state.uncommittedVersion(resource, key), state.epoch)
                case .write(let prepared, let event):
                    let change = state.apply(resource: resource, key: key, prepared, event: event)
                    return (Written(stored: change.stored, event: event), change.version, state.epoch)
                }
            }
            if let (written, version, epoch) = applied {
                return Deferred(value: written, ticket: CommitTicket(store: self, version: version, epoch: epoch))
            }
        }
    }

    // MARK: - Commits

    /// Whether the ticket's change is settled, or nil after registering `resume` for when it is.
    private func settledOrWait(_ ticket: CommitTicket, resume: @escaping @Sendable (Result<Void, StoreError>) -> Void) -> Result<Void, StoreError>? {
        let (settled, start) = state.withLock { (state) -> (Result<Void, StoreError>?, Bool) in
            if let settled = state.settlement(version: ticket.version, epoch: ticket.epoch) { return (settled, false) }
            state.waiters.append((ticket.version, resume))
            let start = !state.committing
            if start { state.committing = true }
            return (nil, start)
        }
        if start { committerQueue.async { self.commitQueued(until: nil) } }
        return settled
    }

    /// Commits on this thread if nobody else is committing, and answers; otherwise answers nil
    /// and calls `notify` once the ticket is settled.
    fileprivate func commitHereOrNotify(_ ticket: CommitTicket, _ notify: @escaping @Sendable (Result<Void, StoreError>) -> Void)
        -> Result<Void, StoreError>?
    {
        let commitHere = state.withLock { (state) -> Bool in
            guard state.settlement(version: ticket.version, epoch: ticket.epoch) == nil, !state.committing else { return false }
            state.committing = true
            return true
        }
        if commitHere { commitQueued(until: ticket) }
        return settledOrWait(ticket, resume: notify)
    }

    /// Waits on this thread, committing here if nobody else is.
    fileprivate func wait(for ticket: CommitTicket) throws(StoreError) {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Void, StoreError>>(.success(()))
        if let settled = commitHereOrNotify(
            ticket,
            { result in
                outcome.withLock { $0 = result }
                semaphore.signal()
            })
        {
            return try settled.get()
        }
        semaphore.wait()
        try outcome.withLock { $0 }.get()
    }

    /// Waits without holding a thread.
    fileprivate func waitAsync(for ticket: CommitTicket) async throws(StoreError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StoreError>, Never>) in
            if let settled = settledOrWait(ticket, resume: { continuation.resume(returning: $0) }) { continuation.resume(returning: settled) }
        }
        try result.get()
    }

    /// How long each transaction takes to commit (fsync included), and how many changes it carries.
    private static let commitDuration = Metrics.Timer(label: "modelplane_store_commit_duration_seconds", preferredDisplayUnit: .seconds)
    private static let commitBatch = Recorder(label: "modelplane_store_commit_batch_size")

    /// The committer's role, held by the caller: commits queued changes a batch per transaction
    /// until the queue is empty, or (`until`) that ticket is settled, when it hands whatever is
    /// left to the committer queue.
    private func commitQueued(until ticket: CommitTicket?) {
        while true {
            let batch = state.withLock { (state) -> [Change]? in
                // The previous batch has been sent to the watchers (or there was none).
                if state.bookmarkPending {
                    state.bookmarkPending = false
                    state.sendBookmarks()
                }
                let settled = ticket.map { state.settlement(version: $0.version, epoch: $0.epoch) != nil } ?? false
                if state.queue.isEmpty || settled {
                    if state.queue.isEmpty {
                        state.committing = false
                    } else {
                        committerQueue.async { self.commitQueued(until: nil) }
                    }
                    return nil
                }
                return state.takeBatch(limit: Self.batchLimit)
            }
            guard let batch else { return }
            var result: Result<Void, StoreError> = .success(())
            let started = ContinuousClock.now
            do {
                try storage.commit(batch)
            } catch {
                result = .failure(.storage(error))
            }
            let elapsed = ContinuousClock.now - started
            Self.commitDuration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            Self.commitBatch.record(batch.count)
            let (settled, delivery) = state.withLock { state -> ([CommitWaiter], Delivery?) in
                switch result {
                case .success: state.committed(batch)
                case .failure(let error): (state.failed(error), nil)
                }
            }
            // Outside the lock, before the next batch (see `Delivery`); the writers hear after
            // their watchers, as before.
            delivery?.send()
            for waiter in settled { waiter.resume(result) }
        }
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

    /// A name made from `generateName`, as kube-apiserver makes it: the prefix (cut to 58
    /// characters) and five random characters.
    public static func generatedName(_ prefix: String) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(prefix.prefix(58)) + String((0..<5).map { _ in alphabet.randomElement()! })
    }
}

/// A write's answer, which holds once its ticket is settled.
public struct Deferred<Value: Sendable>: Sendable {
    public let value: Value
    public let ticket: CommitTicket

    /// Waits (on this thread) for the commit, then answers.
    public func committed() throws(StoreError) -> Value {
        try ticket.wait()
        return value
    }

    func map<Other>(_ transform: (Value) -> Other) -> Deferred<Other> { Deferred<Other>(value: transform(value), ticket: ticket) }
}

/// A write's commit: settled once the write is durable, or failed (a storage error) if the
/// transaction holding it failed, or an earlier one did and dropped it.
public struct CommitTicket: Sendable {
    let store: ResourceStore
    let version: Int64
    let epoch: Int

    /// Waits on this thread, committing here if nobody else is (synchronous callers).
    public func wait() throws(StoreError) { try store.wait(for: self) }

    /// Commits on this thread if nobody else is committing, and answers; otherwise answers nil
    /// and calls `notify` (on the committing thread) once settled. For event loops, which must
    /// not block.
    public func commitHereOrNotify(_ notify: @escaping @Sendable (Result<Void, StoreError>) -> Void) -> Result<Void, StoreError>? {
        store.commitHereOrNotify(self, notify)
    }

    /// Suspends until settled; a queue thread commits.
    public func committed() async throws(StoreError) { try await store.waitAsync(for: self) }
}

extension Array where Element == String {
    /// The first index in `range` whose key satisfies `predicate`, which must be false for a
    /// prefix of the range and true for the rest (a binary search).
    func partitioningIndex(in range: Range<Int>, where predicate: (String) -> Bool) -> Int {
        var low = range.lowerBound
        var high = range.upperBound
        while low < high {
            let middle = low + (high - low) / 2
            if predicate(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
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
