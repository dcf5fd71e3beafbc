import Foundation
import ModelplaneAPI
import Synchronization

/// One applied change, from the write that made it until it is committed.
struct Change {
    var version: Int64
    var resource: String
    var key: String
    var stored: StoredObject
    var event: StoredEvent.EventType
}

/// Something waiting for a version to be committed: resumed with success once it is, or with the
/// failure that dropped it.
typealias CommitWaiter = (version: Int64, resume: @Sendable (Result<Void, StoreError>) -> Void)

/// The store's in-memory state: the committed objects, the writes applied but not yet committed,
/// the watch history, and the watchers. Only ever touched under `ResourceStore`'s lock.
///
/// A write is applied here first (it gets its version and is what later writes check against)
/// and queued for the committer; reads, lists and watches see it only once it is committed, as
/// its writer's answer waits for the commit too. A failed commit drops every uncommitted change,
/// which nobody has seen.
struct State {
    /// The newest committed version: what reads, lists and watches are at.
    var resourceVersion: Int64
    /// The newest version handed to a write (committed or not).
    private(set) var appliedVersion: Int64
    /// Committed objects: resource → "namespace/name" → object.
    private(set) var objects: [String: [String: StoredObject]] = [:]
    /// The newest uncommitted change to each object that has one.
    private var uncommitted: [String: [String: Change]] = [:]
    /// Uncommitted changes the committer has not taken yet, oldest first.
    private(set) var queue: [Change] = []
    /// Whether a thread holds the committer's role (at most one does).
    var committing = false
    /// Bookmarks asked for while the committer may be sending a batch to the watchers: it sends
    /// them once it has (a bookmark must not overtake the changes it vouches for).
    var bookmarkPending = false
    /// Counts failed commits. A version can be handed out again after one, so a ticket names
    /// its epoch too.
    private(set) var epoch = 0
    /// How each earlier epoch ended: the committed version then (a ticket of that epoch at a
    /// later version was dropped) and the failure that dropped it.
    private var epochEnds: [(committed: Int64, failure: StoreError)] = []
    var waiters: [CommitWaiter] = []

    /// How many changes the watch history keeps: a ring of up to this many entries in memory,
    /// grown as changes come; version v sits at index (v - openedAt - 1) % limit.
    let historyLimit: Int64
    private var history: [HistoryEntry] = []
    /// The version the store opened at: the history starts empty after it, as the Kubernetes API
    /// server's watch cache does after a restart.
    private let openedAt: Int64
    /// Changes up to and including this version are no longer in the history.
    var compactedThrough: Int64 { max(openedAt, resourceVersion - historyLimit) }
    var subscribers: [Int: Subscriber] = [:]
    var nextSubscriber = 0
    /// Each resource's committed keys in order, for lists; dropped when a key comes or goes.
    private var sortedKeyCache: [String: [String]] = [:]

    init(objects: [String: [String: StoredObject]], resourceVersion: Int64, historyLimit: Int64) {
        self.objects = objects
        self.resourceVersion = resourceVersion
        appliedVersion = resourceVersion
        openedAt = resourceVersion
        self.historyLimit = max(1, historyLimit)
    }

    /// The resource's committed keys, sorted.
    mutating func sortedKeys(_ resource: String) -> [String] {
        if let keys = sortedKeyCache[resource] { return keys }
        let keys = (objects[resource] ?? [:]).keys.sorted()
        sortedKeyCache[resource] = keys
        return keys
    }

    /// The object as the next write sees it: with every applied change, committed or not.
    func latest(_ resource: String, _ key: String) -> StoredObject? {
        if let change = uncommitted[resource]?[key] { return change.event == .deleted ? nil : change.stored }
        return objects[resource]?[key]
    }

    /// The version a write that changes nothing must wait for: the object's uncommitted change,
    /// if it has one (its answer shows that change).
    func uncommittedVersion(_ resource: String, _ key: String) -> Int64 {
        uncommitted[resource]?[key]?.version ?? 0
    }

    /// Applies a change at the next version and queues it for the committer.
    mutating func apply(resource: String, key: String, _ prepared: PreparedWrite, event: StoredEvent.EventType) -> Change {
        let version = appliedVersion + 1
        let change = Change(version: version, resource: resource, key: key, stored: prepared.stored(at: version), event: event)
        appliedVersion = version
        queue.append(change)
        uncommitted[resource, default: [:]][key] = change
        return change
    }

    /// Sends every watcher a bookmark at the committed version.
    func sendBookmarks() {
        for subscriber in subscribers.values {
            subscriber.continuation.yield(StoredEvent(type: .bookmark, object: [:], resourceVersion: resourceVersion))
        }
    }

    /// Up to `limit` queued changes, oldest first, for one transaction.
    mutating func takeBatch(limit: Int) -> [Change] {
        guard queue.count > limit else {
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        defer { queue.removeFirst(limit) }
        return Array(queue.prefix(limit))
    }

    /// Makes a committed batch visible to reads, lists and new watches, in version order. Returns
    /// the waiters it settles and what the current watchers are to be told, both for outside the
    /// lock (the committer sends the delivery, then resumes the waiters).
    mutating func committed(_ batch: [Change]) -> (waiters: [CommitWaiter], delivery: Delivery) {
        var delivery = Delivery(subscribers: Array(subscribers.values), changes: [])
        delivery.changes.reserveCapacity(batch.count)
        for change in batch {
            let previous = objects[change.resource]?[change.key]?.object
            if change.event == .deleted || previous == nil { sortedKeyCache[change.resource] = nil }
            if change.event == .deleted {
                objects[change.resource]?[change.key] = nil
            } else {
                objects[change.resource, default: [:]][change.key] = change.stored
            }
            if uncommitted[change.resource]?[change.key]?.version == change.version { uncommitted[change.resource]?[change.key] = nil }
            let slot = historySlot(change.version)
            let entry = HistoryEntry(version: change.version, resource: change.resource, type: change.event, json: change.stored.json)
            if slot == history.count { history.append(entry) } else { history[slot] = entry }
            resourceVersion = change.version
            // The previous object goes with the delivery: freeing it (a whole tree) is no work
            // for the lock either.
            delivery.changes.append((change, previous))
        }
        let committedVersion = resourceVersion
        return (settle { $0 <= committedVersion }, delivery)
    }

    /// A commit failed: every uncommitted change is dropped (the database and `objects` still
    /// hold the last committed state) and everything waiting fails. Versions after the committed
    /// one are handed out again; nobody saw them.
    mutating func failed(_ error: StoreError) -> [CommitWaiter] {
        epochEnds.append((resourceVersion, error))
        epoch += 1
        queue.removeAll()
        uncommitted.removeAll()
        appliedVersion = resourceVersion
        return settle { _ in true }
    }

    /// A ticket's outcome: nil while its change waits for a commit.
    func settlement(version: Int64, epoch: Int) -> Result<Void, StoreError>? {
        if epoch == self.epoch { return version <= resourceVersion ? .success(()) : nil }
        let end = epochEnds[epoch]
        return version <= end.committed ? .success(()) : .failure(end.failure)
    }

    private mutating func settle(_ done: (Int64) -> Bool) -> [CommitWaiter] {
        var settled: [CommitWaiter] = []
        waiters.removeAll { waiter in
            guard done(waiter.version) else { return false }
            settled.append(waiter)
            return true
        }
        return settled
    }

    /// The changes to `type` after `version`, oldest first; the caller has checked that the
    /// history still holds them (`compactedThrough`).
    func history(_ type: ResourceType, after version: Int64) throws -> [StoredEvent] {
        guard version < resourceVersion else { return [] }
        var events: [StoredEvent] = []
        for next in (version + 1)...resourceVersion {
            let slot = historySlot(next)
            guard slot < history.count else { break }
            let entry = history[slot]
            guard entry.version == next, entry.resource == type.description else { continue }
            events.append(StoredEvent(type: entry.type, object: try JSONValue(parsing: entry.json), resourceVersion: next, json: entry.json))
        }
        return events
    }

    private func historySlot(_ version: Int64) -> Int { Int((version - openedAt - 1) % historyLimit) }
}

/// What one committed batch tells the watchers that were open when it committed. The committer
/// sends it outside the lock, before it takes the next batch (and before any bookmark waiting
/// for it, see `ResourceStore.emitBookmarks`), so every watcher still sees changes in version
/// order. A watch opened after the commit replays the batch from the history instead.
struct Delivery {
    var subscribers: [Subscriber]
    var changes: [(change: Change, previous: JSONValue?)]

    /// Tells the watchers of each change's resource: a selector watch sees an object enter and
    /// leave its selection as ADDED and DELETED.
    func send() {
        for (change, previous) in changes {
            let object = change.stored.object
            for subscriber in subscribers where subscriber.resource == change.resource {
                let matchedBefore = previous.map(subscriber.filter.matches) ?? false
                let matchesNow = subscriber.filter.matches(object)
                let seen: StoredEvent.EventType?
                switch (change.event, matchedBefore, matchesNow) {
                case (.added, _, true): seen = .added
                case (.modified, true, true): seen = .modified
                case (.modified, false, true): seen = .added
                case (.modified, true, false): seen = .deleted
                case (.deleted, _, true), (.deleted, true, _): seen = .deleted
                default: seen = nil
                }
                if let seen {
                    subscriber.continuation.yield(StoredEvent(type: seen, object: object, resourceVersion: change.version, json: change.stored.json))
                }
            }
        }
    }
}

/// An object encoded for writing, outside the store's lock, with its resourceVersion left out:
/// under the lock, where the version is handed out, writing it costs one copy of its text.
struct PreparedWrite {
    private var object: JSONValue
    private let before: String
    private let after: String

    init(_ object: JSONValue) {
        var object = object
        var metadata = object["metadata"] ?? [:]
        metadata["resourceVersion"] = ""
        object["metadata"] = metadata
        self.object = object
        guard let pieces = object.canonicalText(splitAt: ["metadata", "resourceVersion"]) else {
            preconditionFailure("metadata.resourceVersion, set just above, is missing")
        }
        (before, after) = pieces
    }

    /// The object as a dry run answers it: with `resourceVersion` (the stored object's, or none
    /// for a create), never stored.
    func unstored(resourceVersion: JSONValue?) -> StoredObject {
        var object = object
        object["metadata"]?["resourceVersion"] = resourceVersion
        return StoredObject(object)
    }

    func stored(at version: Int64) -> StoredObject {
        let text = String(version)
        var object = object
        object["metadata"]?["resourceVersion"] = .string(text)
        return StoredObject(object: object, json: before + "\"" + text + "\"" + after)
    }
}

/// One change in the watch history. Only the JSON text is kept (a string the current object
/// usually shares); a replay parses it again.
struct HistoryEntry {
    var version: Int64
    var resource: String
    var type: StoredEvent.EventType
    var json: String
}

/// The database: read once at start, then written only by whoever holds the committer's role
/// (`State.committing`), outside the store's lock, one transaction per batch of changes.
final class Storage: @unchecked Sendable {
    private let database: SQLiteDatabase
    private let upsertObject: SQLiteDatabase.Statement
    private let deleteObject: SQLiteDatabase.Statement
    private let saveVersion: SQLiteDatabase.Statement
    /// Copies the log into the database off the write path.
    private let checkpointer: Checkpointer
    private var changesSinceCheckpoint = 0

    init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        // WAL: a commit is durable once written to the log; NORMAL syncs the log at checkpoints,
        // which survives the process being killed (the OS still holds the writes), not power loss.
        try database.execute("PRAGMA journal_mode=WAL")
        try database.execute("PRAGMA synchronous=NORMAL")
        // Checkpoints (copying the log into the database and syncing both) run on the
        // checkpointer's own connection, not inside a write; SQLite's own stays as a backstop
        // should the log ever grow past ~40 MiB.
        try database.execute("PRAGMA wal_autocheckpoint=10000")
        // 8 MiB of pages cached (SQLite's default is 2 MiB) holds the B-trees' inner pages; leaves
        // come from the OS's cache. A bigger one costs: SQLite walks its whole page cache's hash
        // table at some commits (measured: 32 MiB made the controller's cold start 20% slower).
        try database.execute("PRAGMA cache_size=-8192")
        try Self.createOrMigrateSchema(database)
        upsertObject = try database.prepare(
            "INSERT INTO objects (resource, key, body) VALUES (?, ?, ?) ON CONFLICT (resource, key) DO UPDATE SET body = excluded.body")
        deleteObject = try database.prepare("DELETE FROM objects WHERE resource = ? AND key = ?")
        saveVersion = try database.prepare("UPDATE counters SET value = ? WHERE name = 'resourceVersion'")
        checkpointer = try Checkpointer(path: path)
    }

    /// Every stored object, and the current version.
    func load() throws -> (objects: [String: [String: StoredObject]], resourceVersion: Int64) {
        // The current version is the newest object's, or the counter's where a deletion came
        // after it (only deletions write the counter: every other change leaves its version in
        // the object it wrote).
        let counter = try database.prepare("SELECT value FROM counters WHERE name = 'resourceVersion'")
        try counter.bind([])
        var version = try counter.step() ? counter.integer(0) : 0
        var objects: [String: [String: StoredObject]] = [:]
        let rows = try database.prepare("SELECT resource, key, body FROM objects")
        try rows.bind([])
        while try rows.step() {
            let json = rows.text(2)
            let object = try JSONValue(parsing: json)
            if case .string(let text)? = object["metadata"]?["resourceVersion"], let written = Int64(text) { version = max(version, written) }
            objects[rows.text(0), default: [:]][rows.text(1)] = StoredObject(object: object, json: json)
        }
        return (objects, version)
    }

    /// The layout this version writes (`PRAGMA user_version`).
    static let schemaVersion = 3

    /// Creates the tables, or brings a store written by an earlier version to this layout, in
    /// one transaction.
    ///
    /// - Objects live in an ordinary table, updated in place. Version 0 kept them in a WITHOUT
    ///   ROWID table, where an object's JSON (~2 KiB for a deployment with status) did not fit in
    ///   a B-tree cell: every write freed and reallocated overflow pages.
    /// - Versions 0–2 also kept the watch history in a table (appended to, then a ring of rows).
    ///   Writing each change's JSON twice, into two pages far apart, cost more than half of every
    ///   commit and of every checkpoint; the history now lives in memory, and the migration keeps
    ///   only its newest version, in the counter.
    static func createOrMigrateSchema(_ database: SQLiteDatabase) throws {
        func integer(_ sql: String) throws -> Int64 {
            let query = try database.prepare(sql)
            try query.bind([])
            return try query.step() ? query.integer(0) : 0
        }
        guard try integer("PRAGMA user_version") < schemaVersion else { return }
        try database.transaction {
            // Again inside the transaction: another process may have just done it.
            let layout = try integer("PRAGMA user_version")
            guard layout < schemaVersion else { return }
            func exists(_ table: String) throws -> Bool {
                try integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '\(table)'") > 0
            }
            try database.execute(
                """
                CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO counters VALUES ('resourceVersion', 0);
                """)
            if layout < 1 {
                let hasObjects = try exists("objects")
                if hasObjects { try database.execute("ALTER TABLE objects RENAME TO objects_v0") }
                try database.execute("CREATE TABLE objects (resource TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (resource, key))")
                if hasObjects {
                    try database.execute("INSERT INTO objects (resource, key, body) SELECT resource, key, body FROM objects_v0; DROP TABLE objects_v0")
                }
            }
            if try exists("history") {
                // Its newest entry may be a deletion, whose version no object carries.
                let newest = try integer("SELECT MAX(version) FROM history")
                try database.execute(
                    """
                    UPDATE counters SET value = max(value, \(newest)) WHERE name = 'resourceVersion';
                    DROP TABLE history
                    """)
            }
            try database.execute(
                """
                DELETE FROM counters WHERE name IN ('compactedThrough', 'historyLimit');
                PRAGMA user_version = \(schemaVersion)
                """)
        }
    }

    /// Persists a batch of changes, objects or their removals, in one transaction. A batch with
    /// a removal also saves its newest version, which no object may carry.
    func commit(_ batch: [Change]) throws {
        try database.transaction {
            for change in batch {
                if change.event == .deleted {
                    try deleteObject.run([.text(change.resource), .text(change.key)])
                } else {
                    try upsertObject.run([.text(change.resource), .text(change.key), .text(change.stored.json)])
                }
            }
            if let last = batch.last, batch.contains(where: { $0.event == .deleted }) { try saveVersion.run([.integer(last.version)]) }
        }
        changesSinceCheckpoint += batch.count
        if changesSinceCheckpoint >= Checkpointer.changesPerCheckpoint {
            changesSinceCheckpoint = 0
            checkpointer.request()
        }
    }
}

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own, on a serial queue, when
/// asked (every `changesPerCheckpoint` changes). A passive checkpoint never blocks the writer,
/// so the page copying and the two syncs it costs no longer happen under the store's lock, in
/// the middle of somebody's request. Requests made while one runs fold into the next.
final class Checkpointer: @unchecked Sendable {
    /// ~8,000 pages (~30 MiB of log) at ~4 pages per change, under SQLite's own 10,000-page
    /// backstop (which would checkpoint inside a commit). A page many commits rewrite (a leaf of
    /// hot objects) is copied once per checkpoint, not once per commit: the controller's cold
    /// start of 10,000 took ~5% less CPU than with 256.
    static let changesPerCheckpoint = 2048
    /// Used only on `queue`.
    private let database: SQLiteDatabase
    private let queue = DispatchQueue(label: "modelplane.store.checkpoint")
    private let pending = Mutex(false)

    init(path: String) throws {
        database = try SQLiteDatabase(path: path)
    }

    func request() {
        guard
            pending.withLock({ (pending: inout Bool) -> Bool in
                defer { pending = true }
                return !pending
            })
        else { return }
        queue.async { [self] in
            pending.withLock { $0 = false }
            // A failed checkpoint loses nothing: the log still holds every commit, and the
            // next one (or SQLite's own at the backstop) copies it.
            try? database.execute("PRAGMA wal_checkpoint(PASSIVE)")
        }
    }
}
