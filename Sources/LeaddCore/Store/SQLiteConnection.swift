// A thin layer over the sqlite3 C API: one connection, prepared statements cached by SQL text.
// A connection is used by one thread at a time (the store gives each its own thread).
internal import CSQLite

/// An error from SQLite, with the statement that caused it.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var sql: String?

    public var description: String {
        if let sql { return "SQLite error \(code): \(message) (in: \(sql.prefix(120)))" }
        return "SQLite error \(code): \(message)"
    }

    /// The disk is full or the file cannot be written: refuse new work, keep what is stored.
    public var isStorageFull: Bool { code & 0xFF == SQLITE_FULL || code & 0xFF == SQLITE_IOERR }
    public var isConstraint: Bool { code & 0xFF == SQLITE_CONSTRAINT }
    /// The file is damaged or is not an SQLite database at all.
    public var isCorruption: Bool { code & 0xFF == SQLITE_CORRUPT || code & 0xFF == SQLITE_NOTADB }
}

final class SQLiteConnection {
    private let db: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    let path: String

    /// Set once, before the first connection opens.
    private static let configured: Void = { _ = leadd_sqlite_disable_memory_statistics() }()

    init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        Self.configured
        var handle: OpaquePointer?
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close_v2(handle) }
            throw SQLiteError(code: status, message: "\(message): \(path)")
        }
        self.db = handle
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(db)
    }

    /// False when no transaction is open (autocommit), as after SQLite rolled one back by itself.
    var inTransaction: Bool { sqlite3_get_autocommit(db) == 0 }

    func execute(_ sql: String) throws(SQLiteError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        if status != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(errorMessage)
            throw SQLiteError(code: status, message: message, sql: sql)
        }
    }

    /// A prepared statement, reset and with bindings cleared. Statements are cached by their text
    /// unless `cached` is false (SQL built per request, which would only fill the cache).
    func statement(_ sql: String, cached: Bool = true) throws(SQLiteError) -> SQLiteStatement {
        if cached, let statement = statements[sql] {
            statement.reset()
            return statement
        }
        var handle: OpaquePointer?
        let flags = cached ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let status = sqlite3_prepare_v3(db, sql, -1, flags, &handle, nil)
        guard status == SQLITE_OK, let handle else {
            throw SQLiteError(code: status, message: lastMessage, sql: sql)
        }
        let statement = SQLiteStatement(handle: handle, connection: self, sql: sql)
        if cached { statements[sql] = statement }
        return statement
    }

    /// Runs `sql` and returns the first column of the first row as an integer.
    func scalar(_ sql: String) throws(SQLiteError) -> Int64? {
        let s = try statement(sql)
        defer { s.reset() }
        return try s.step() ? s.int64OrNil(0) : nil
    }

    /// The first column of the first row as text; nil when there is no row or it is NULL.
    func text(_ sql: String) throws(SQLiteError) -> String? {
        let s = try statement(sql)
        defer { s.reset() }
        return try s.step() ? s.stringOrNil(0) : nil
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(db)) }
    var changes: Int { Int(sqlite3_changes(db)) }
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(db) }

    func error(_ status: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: status, message: lastMessage, sql: sql)
    }
}

// SQLite copies bound text before the bind call returns when given this destructor.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

final class SQLiteStatement {
    private let handle: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String

    init(handle: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: String?) {
        guard let value else {
            sqlite3_bind_null(handle, index)
            return
        }
        var text = value
        text.withUTF8 { bytes in
            _ = sqlite3_bind_text(handle, index, bytes.baseAddress, Int32(bytes.count), transient)
        }
    }

    /// Binds ids as one blob of native-endian 64-bit integers (read back with `int64s`).
    func bind(_ index: Int32, ids: [Int64]) {
        ids.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), transient)
        }
    }

    /// Steps once; true when a row is available.
    @discardableResult
    func step() throws(SQLiteError) -> Bool {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(status, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs to completion, ignoring rows.
    func run() throws(SQLiteError) {
        while try step() {}
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func int64OrNil(_ column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// A blob bound with `bind(_:ids:)`.
    func int64s(_ column: Int32) -> [Int64] {
        let count = Int(sqlite3_column_bytes(handle, column)) / MemoryLayout<Int64>.size
        guard count > 0, let blob = sqlite3_column_blob(handle, column) else { return [] }
        return [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(
                from: UnsafeRawBufferPointer(start: blob, count: count * MemoryLayout<Int64>.size))
            initialized = count
        }
    }

    func stringOrNil(_ column: Int32) -> String? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : string(column)
    }
}
