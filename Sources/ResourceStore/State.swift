import Foundation
import ModelplaneAPI
import Synchronization

/// The store's mutable state: the database, the objects in memory, and the watchers. Only ever
/// touched under `ResourceStore`'s lock.
struct State {
    private let database: SQLiteDatabase
    private let upsertObject: SQLiteDatabase.Statement
    private let deleteObject: SQLiteDatabase.Statement
    private let saveVersion: SQLiteDatabase.Statement

    var resourceVersion: Int64
    /// How many changes the watch history keeps: a ring of up to this many entries in memory,
    /// grown as changes come; version v sits at index (v - openedAt - 1) % limit.
    let historyLimit: Int64
    private var history: [HistoryEntry] = []
    /// The version the store opened at: the history starts empty after it, as the Kubernetes API
    /// server's watch cache does after a restart.
    private let openedAt: Int64
    /// Changes up to and including this version are no longer in the history.
    var compactedThrough: Int64 { max(openedAt, resourceVersion - historyLimit) }
    /// resource → "namespace/name" → object.
    var objects: [String: [String: StoredObject]] = [:]
    var subscribers: [Int: Subscriber] = [:]
    var nextSubscriber = 0
    /// Copies the log into the database off the write path.
    private let checkpointer: Checkpointer
    private var commitsSinceCheckpoint = 0

    init(path: String, historyLimit: Int64) throws {
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
        self.historyLimit = max(1, historyLimit)
        try Self.createOrMigrateSchema(database)
        upsertObject = try database.prepare(
            "INSERT INTO objects (resource, key, body) VALUES (?, ?, ?) ON CONFLICT (resource, key) DO UPDATE SET body = excluded.body")
        deleteObject = try database.prepare("DELETE FROM objects WHERE resource = ? AND key = ?")
        saveVersion = try database.prepare("UPDATE counters SET value = ? WHERE name = 'resourceVersion'")

        // The current version is the newest object's, or the counter's where a deletion came
        // after it (only deletions write the counter: every other change leaves its version in
        // the object it wrote).
        let counter = try database.prepare("SELECT value FROM counters WHERE name = 'resourceVersion'")
        try counter.bind([])
        var version = try counter.step() ? counter.integer(0) : 0
        let rows = try database.prepare("SELECT resource, key, body FROM objects")
        try rows.bind([])
        while try rows.step() {
            let json = rows.text(2)
            let object = try JSONValue(parsing: json)
            if case .string(let text)? = object["metadata"]?["resourceVersion"], let written = Int64(text) { version = max(version, written) }
            objects[rows.text(0), default: [:]][rows.text(1)] = StoredObject(object: object, json: json)
        }
        resourceVersion = version
        openedAt = version
        checkpointer = try Checkpointer(path: path)
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

    /// Persists one change, the object or its removal, in one transaction (a removal also
    /// saves the version, which no object then carries), and adds it to the history.
    mutating func commit(resource: String, key: String, stored: StoredObject, deleted: Bool, event: StoredEvent.EventType, version: Int64) throws {
        try database.transaction {
            if deleted {
                try deleteObject.run([.text(resource), .text(key)])
                try saveVersion.run([.integer(version)])
            } else {
                try upsertObject.run([.text(resource), .text(key), .text(stored.json)])
            }
        }
        resourceVersion = version
        let entry = HistoryEntry(version: version, resource: resource, type: event, json: stored.json)
        let slot = historySlot(version)
        if slot == history.count { history.append(entry) } else { history[slot] = entry }
        commitsSinceCheckpoint += 1
        if commitsSinceCheckpoint >= Checkpointer.commitsPerCheckpoint {
            commitsSinceCheckpoint = 0
            checkpointer.request()
        }
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

/// One change in the watch history. Only the JSON text is kept (a string the current object
/// usually shares); a replay parses it again.
struct HistoryEntry {
    var version: Int64
    var resource: String
    var type: StoredEvent.EventType
    var json: String
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
