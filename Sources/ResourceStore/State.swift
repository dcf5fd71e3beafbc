import Foundation
import ModelplaneAPI
import Synchronization

/// The store's mutable state: the database, the objects in memory, and the watchers. Only ever
/// touched under `ResourceStore`'s lock.
struct State {
    private let database: SQLiteDatabase
    private let upsertObject: SQLiteDatabase.Statement
    private let deleteObject: SQLiteDatabase.Statement
    private let insertHistory: SQLiteDatabase.Statement
    private let saveVersion: SQLiteDatabase.Statement
    private let compact: SQLiteDatabase.Statement
    private let readHistory: SQLiteDatabase.Statement

    var resourceVersion: Int64
    /// Changes up to and including this version are no longer in the history.
    var compactedThrough: Int64
    /// resource → "namespace/name" → object.
    var objects: [String: [String: StoredObject]] = [:]
    var subscribers: [Int: Subscriber] = [:]
    var nextSubscriber = 0
    /// Copies the log into the database off the write path.
    private let checkpointer: Checkpointer
    private var commitsSinceCheckpoint = 0

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
        // Up to 32 MiB of pages cached (SQLite's default is 2 MiB): with 10,000 deployments the
        // objects table outgrew it and every write read B-tree pages back from the file.
        try database.execute("PRAGMA cache_size=-32768")
        try Self.createOrMigrateSchema(database)
        upsertObject = try database.prepare(
            "INSERT INTO objects (resource, key, body) VALUES (?, ?, ?) ON CONFLICT (resource, key) DO UPDATE SET body = excluded.body")
        deleteObject = try database.prepare("DELETE FROM objects WHERE resource = ? AND key = ?")
        insertHistory = try database.prepare("INSERT INTO history (version, resource, type, body) VALUES (?, ?, ?, ?)")
        saveVersion = try database.prepare("UPDATE counters SET value = ? WHERE name = ?")
        compact = try database.prepare("DELETE FROM history WHERE version <= ?")
        readHistory = try database.prepare("SELECT version, type, body FROM history WHERE resource = ? AND version > ? ORDER BY version")

        let counters = try database.prepare("SELECT name, value FROM counters")
        var values: [String: Int64] = [:]
        try counters.bind([])
        while try counters.step() { values[counters.text(0)] = counters.integer(1) }
        // The newest history entry carries the current version (compaction never removes it);
        // the counter covers a history that was never written.
        let newest = try database.prepare("SELECT MAX(version) FROM history")
        try newest.bind([])
        resourceVersion = max(values["resourceVersion"] ?? 0, try newest.step() ? newest.integer(0) : 0)
        compactedThrough = values["compactedThrough"] ?? 0

        checkpointer = try Checkpointer(path: path)
        let rows = try database.prepare("SELECT resource, key, body FROM objects")
        try rows.bind([])
        while try rows.step() {
            let json = rows.text(2)
            objects[rows.text(0), default: [:]][rows.text(1)] = StoredObject(object: try JSONValue(parsing: json), json: json)
        }
    }

    /// The layout this version writes (`PRAGMA user_version`).
    static let schemaVersion = 1

    /// Creates the tables, or brings a store written by an earlier version to this layout in one
    /// transaction. Version 0 kept objects in a WITHOUT ROWID table: an object's JSON (~2 KiB for
    /// a deployment with status) did not fit in such a table's B-tree cell, so every write freed
    /// and reallocated overflow pages, and committing cost SQLite a scan of its whole page cache.
    /// An ordinary table holds the JSON in the row and updates it in place (about half the cost).
    static func createOrMigrateSchema(_ database: SQLiteDatabase) throws {
        func integer(_ sql: String) throws -> Int64 {
            let query = try database.prepare(sql)
            try query.bind([])
            return try query.step() ? query.integer(0) : 0
        }
        guard try integer("PRAGMA user_version") < schemaVersion else { return }
        try database.transaction {
            // Again inside the transaction: another process may have just done it.
            guard try integer("PRAGMA user_version") < schemaVersion else { return }
            let hasObjects = try integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'objects'") > 0
            if hasObjects { try database.execute("ALTER TABLE objects RENAME TO objects_v0") }
            try database.execute(
                """
                CREATE TABLE objects (
                    resource TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (resource, key));
                CREATE TABLE IF NOT EXISTS history (
                    version INTEGER PRIMARY KEY, resource TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO counters VALUES ('resourceVersion', 0), ('compactedThrough', 0);
                """)
            if hasObjects {
                try database.execute("INSERT INTO objects (resource, key, body) SELECT resource, key, body FROM objects_v0; DROP TABLE objects_v0")
            }
            try database.execute("PRAGMA user_version = \(schemaVersion)")
        }
    }

    /// Persists one change: the object (or its removal) and the history entry, which carries the
    /// new version, in one transaction. Compacts the history in the same transaction every 256 versions.
    mutating func commit(
        resource: String, key: String, stored: StoredObject, deleted: Bool, event: StoredEvent.EventType, version: Int64, compactBefore: Int64
    ) throws {
        let compactNow = compactBefore > compactedThrough && version % 256 == 0
        try database.transaction {
            if deleted {
                try deleteObject.run([.text(resource), .text(key)])
            } else {
                try upsertObject.run([.text(resource), .text(key), .text(stored.json)])
            }
            try insertHistory.run([.integer(version), .text(resource), .text(event.rawValue), .text(stored.json)])
            if compactNow {
                try saveVersion.run([.integer(version), .text("resourceVersion")])
                try compact.run([.integer(compactBefore)])
                try saveVersion.run([.integer(compactBefore), .text("compactedThrough")])
            }
        }
        resourceVersion = version
        if compactNow { compactedThrough = compactBefore }
        commitsSinceCheckpoint += 1
        if commitsSinceCheckpoint >= Checkpointer.commitsPerCheckpoint {
            commitsSinceCheckpoint = 0
            checkpointer.request()
        }
    }

    func history(_ type: ResourceType, after version: Int64) throws -> [StoredEvent] {
        try readHistory.bind([.text(type.description), .integer(version)])
        var events: [StoredEvent] = []
        while try readHistory.step() {
            let json = readHistory.text(2)
            events.append(
                StoredEvent(
                    type: StoredEvent.EventType(rawValue: readHistory.text(1)) ?? .modified, object: try JSONValue(parsing: json),
                    resourceVersion: readHistory.integer(0), json: json))
        }
        return events
    }
}

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own, on a serial queue, when
/// asked (every `commitsPerCheckpoint` commits). A passive checkpoint never blocks the writer,
/// so the page copying and the two syncs it costs no longer happen under the store's lock, in
/// the middle of somebody's request. Requests made while one runs fold into the next.
final class Checkpointer: @unchecked Sendable {
    /// About SQLite's default 1,000-page threshold at ~4 pages per write.
    static let commitsPerCheckpoint = 256
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
