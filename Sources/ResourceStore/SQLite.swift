internal import CSQLite

/// A thin, synchronous wrapper over one SQLite connection. Not thread-safe: the store uses it
/// under its own lock.
final class SQLiteDatabase {
    private var handle: OpaquePointer?

    struct Failure: Error, CustomStringConvertible {
        var code: Int32
        var message: String
        var description: String { "SQLite error \(code): \(message)" }
    }

    init(path: String) throws(Failure) {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw Failure(code: code, message: "\(message) (\(path))")
        }
        sqlite3_busy_timeout(handle, 5000)
    }

    /// BEGIN, COMMIT and ROLLBACK, prepared once instead of parsed on every write.
    private var transactionStatements: [String: OpaquePointer] = [:]

    deinit {
        for statement in transactionStatements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    func execute(_ sql: String) throws(Failure) {
        var error: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &error)
        if code != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(error)
            throw Failure(code: code, message: message)
        }
    }

    func prepare(_ sql: String) throws(Failure) -> Statement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else { throw failure(code) }
        return Statement(statement, database: self)
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try step("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try step("COMMIT")
            return result
        } catch {
            try? step("ROLLBACK")
            throw error
        }
    }

    /// Runs one of the transaction statements, preparing it the first time.
    private func step(_ sql: String) throws(Failure) {
        let statement: OpaquePointer
        if let prepared = transactionStatements[sql] {
            statement = prepared
        } else {
            var prepared: OpaquePointer?
            let code = sqlite3_prepare_v2(handle, sql, -1, &prepared, nil)
            guard code == SQLITE_OK, let prepared else { throw failure(code) }
            transactionStatements[sql] = prepared
            statement = prepared
        }
        sqlite3_reset(statement)
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else { throw failure(code) }
    }

    func failure(_ code: Int32) -> Failure {
        Failure(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }

    final class Statement {
        private let statement: OpaquePointer
        private let database: SQLiteDatabase

        init(_ statement: OpaquePointer, database: SQLiteDatabase) {
            self.statement = statement
            self.database = database
        }

        deinit { sqlite3_finalize(statement) }

        /// Binds parameters 1...n (Int64, String or nil) and resets the statement.
        func bind(_ values: [SQLValue]) throws(Failure) {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            for (i, value) in values.enumerated() {
                let index = Int32(i + 1)
                let code: Int32
                switch value {
                case .integer(let n): code = sqlite3_bind_int64(statement, index, n)
                case .text(var s):
                    code = s.withUTF8 { text in
                        text.withMemoryRebound(to: CChar.self) { chars in
                            // An empty string has no storage; a null pointer would bind NULL.
                            guard let base = chars.baseAddress else { return mp_sqlite_bind_text(statement, index, "", 0) }
                            return mp_sqlite_bind_text(statement, index, base, Int32(chars.count))
                        }
                    }
                case .null: code = sqlite3_bind_null(statement, index)
                }
                guard code == SQLITE_OK else { throw database.failure(code) }
            }
        }

        /// Steps once; true while a row is available.
        func step() throws(Failure) -> Bool {
            let code = sqlite3_step(statement)
            switch code {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw database.failure(code)
            }
        }

        func run(_ values: [SQLValue]) throws(Failure) {
            try bind(values)
            while try step() {}
        }

        func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

        func text(_ column: Int32) -> String {
            guard let pointer = sqlite3_column_text(statement, column) else { return "" }
            return String(cString: pointer)
        }
    }
}

enum SQLValue {
    case integer(Int64)
    case text(String)
    case null
}
