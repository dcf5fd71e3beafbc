import Foundation
import ModelplaneAPI
import Synchronization

/// The store's mutable state: the database, the objects in memory, and the watchers. Only ever
/// touched under `ResourceStore`'s lock.
struct State {
    private let database: SQLiteDatabase
    private let upsertObject: SQLiteDatabase.Statement
    private let deleteObject: SQLiteDatabase.Statement
    private let writeHistory: SQLiteDatabase.Statement
    private let readHistory: SQLiteDatabase.Statement

    var resourceVersion: Int64
    /// How many changes the history keeps: a ring of this many rows, version v in row v % limit.
    let historyLimit: Int64
    /// Versions at or below this were in the history before its limit last changed, and are gone.
    private let compactedBeforeLimitChange: Int64
    /// Changes up to and including this version are no longer in the history.
    var compactedThrough: Int64 { max(compactedBeforeLimitChange, resourceVersion - historyLimit) }
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
        try Self.createOrMigrateSchema(database, historyLimit: self.historyLimit)
        upsertObject = try database.prepare(
            "INSERT INTO objects (resource, key, body) VALUES (?, ?, ?) ON CONFLICT (resource, key) DO UPDATE SET body = excluded.body")
        deleteObject = try database.prepare("DELETE FROM objects WHERE resource = ? AND key = ?")
        writeHistory = try database.prepare(
            """
            INSERT INTO history (slot, version, resource, type, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT (slot) DO UPDATE SET
                version = excluded.version, resource = excluded.resource, type = excluded.type, body = excluded.body
            """)
        readHistory = try database.prepare("SELECT version, resource, type, body FROM history WHERE slot BETWEEN ? AND ?")

        let counters = try database.prepare("SELECT name, value FROM counters")
        var values: [String: Int64] = [:]
        try counters.bind([])
        while try counters.step() { values[counters.text(0)] = counters.integer(1) }
        // The newest history entry carries the current version (the ring always keeps it); the
        // counter covers a history that was never written.
        let newest = try database.prepare("SELECT MAX(version) FROM history")
        try newest.bind([])
        resourceVersion = max(values["resourceVersion"] ?? 0, try newest.step() ? newest.integer(0) : 0)
        compactedBeforeLimitChange = values["compactedThrough"] ?? 0

        checkpointer = try Checkpointer(path: path)
        let rows = try database.prepare("SELECT resource, key, body FROM objects")
        try rows.bind([])
        while try rows.step() {
            let json = rows.text(2)
            objects[rows.text(0), default: [:]][rows.text(1)] = StoredObject(object: try JSONValue(parsing: json), json: json)
        }
    }

    /// The layout this version writes (`PRAGMA user_version`).
    static let schemaVersion = 2

    /// Creates the tables, or brings a store written by an earlier version (or with another
    /// history limit) to this layout, in one transaction.
    ///
    /// - Objects live in an ordinary table, updated in place. Version 0 kept them in a WITHOUT
    ///   ROWID table, where an object's JSON (~2 KiB for a deployment with status) did not fit in
    ///   a B-tree cell: every write freed and reallocated overflow pages.
    /// - The history is a ring of `historyLimit` rows, version v in row v % limit, overwritten in
    ///   place. Versions 0 and 1 appended a row per change and deleted old ones every 256
    ///   changes; the freed pages churned through SQLite's free list, and each commit then cost a
    ///   scan of its whole page cache (8% of the controller's cold start in `perf`).
    static func createOrMigrateSchema(_ database: SQLiteDatabase, historyLimit: Int64) throws {
        func integer(_ sql: String) throws -> Int64 {
            let query = try database.prepare(sql)
            try query.bind([])
            return try query.step() ? query.integer(0) : 0
        }
        func current() throws -> Bool {
            try integer("PRAGMA user_version") >= schemaVersion
                && integer("SELECT value FROM counters WHERE name = 'historyLimit'") == historyLimit
        }
        guard try !current() else { return }
        try database.transaction {
            // Again inside the transaction: another process may have just done it.
            guard try !current() else { return }
            func exists(_ table: String) throws -> Bool {
                try integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '\(table)'") > 0
            }
            try database.execute(
                """
                CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO counters VALUES ('resourceVersion', 0), ('compactedThrough', 0);
                """)
            if try integer("PRAGMA user_version") < 1 {
                let hasObjects = try exists("objects")
                if hasObjects { try database.execute("ALTER TABLE objects RENAME TO objects_v0") }
                try database.execute("CREATE TABLE objects (resource TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (resource, key))")
                if hasObjects {
                    try database.execute("INSERT INTO objects (resource, key, body) SELECT resource, key, body FROM objects_v0; DROP TABLE objects_v0")
                }
            }
            // The history, rebuilt as a ring of `historyLimit` rows holding the newest versions.
            var compacted = try integer("SELECT value FROM counters WHERE name = 'compactedThrough'")
            let hadHistory = try exists("history")
            if hadHistory {
                let newest = try integer("SELECT MAX(version) FROM history")
                let oldLimit = try integer("SELECT value FROM counters WHERE name = 'historyLimit'")
                // A ring of another size held only its newest `oldLimit` versions; the old layout
                // kept everything after `compactedThrough`.
                if oldLimit > 0 { compacted = max(compacted, newest - oldLimit) }
                compacted = max(compacted, newest - historyLimit)
                try database.execute("ALTER TABLE history RENAME TO history_old")
            }
            try database.execute(
                """
                CREATE TABLE history (
                    slot INTEGER PRIMARY KEY, version INTEGER NOT NULL, resource TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL)
                """)
            if hadHistory {
                try database.execute(
                    """
                    INSERT INTO history (slot, version, resource, type, body)
                        SELECT version % \(historyLimit), version, resource, type, body FROM history_old WHERE version > \(compacted);
                    DROP TABLE history_old
                    """)
            }
            try database.execute(
                """
                UPDATE counters SET value = \(compacted) WHERE name = 'compactedThrough';
                INSERT INTO counters VALUES ('historyLimit', \(historyLimit)) ON CONFLICT (name) DO UPDATE SET value = excluded.value;
                PRAGMA user_version = \(schemaVersion)
                """)
        }
    }

    /// Persists one change: the object (or its removal) and the history entry, which carries the
    /// new version (overwriting the one `historyLimit` versions older), in one transaction.
    mutating func commit(resource: String, key: String, stored: StoredObject, deleted: Bool, event: StoredEvent.EventType, version: Int64) throws {
        try database.transaction {
            if deleted {
                try deleteObject.run([.text(resource), .text(key)])
            } else {
                try upsertObject.run([.text(resource), .text(key), .text(stored.json)])
            }
            try writeHistory.run([.integer(version % historyLimit), .integer(version), .text(resource), .text(event.rawValue), .text(stored.json)])
        }
        resourceVersion = version
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
        // Versions version+1 ... resourceVersion sit in consecutive rows of the ring, wrapping
        // around at most once.
        let first = (version + 1) % historyLimit
        let last = resourceVersion % historyLimit
        let ranges: [(from: Int64, to: Int64)] = first <= last ? [(first, last)] : [(first, historyLimit - 1), (Int64(0), last)]
        var events: [StoredEvent] = []
        for (from, to) in ranges {
            try readHistory.bind([.integer(from), .integer(to)])
            while try readHistory.step() {
                guard readHistory.integer(0) > version, readHistory.text(1) == type.description else { continue }
                let json = readHistory.text(3)
                events.append(
                    StoredEvent(
                        type: StoredEvent.EventType(rawValue: readHistory.text(2)) ?? .modified, object: try JSONValue(parsing: json),
                        resourceVersion: readHistory.integer(0), json: json))
            }
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
