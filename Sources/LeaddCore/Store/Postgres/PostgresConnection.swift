// One libpq connection: statements prepared once per connection and run with text parameters;
// results read as text. Blocking, so it is used only from the pool's own threads.
internal import CLibPQ
import Foundation

public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var sql: String?

    public var description: String {
        var text = "PostgreSQL: \(message)"
        if let sqlState { text += " (\(sqlState))" }
        if let sql { text += " in: \(sql.prefix(80))" }
        return text
    }
}

/// A value sent as a statement parameter, in PostgreSQL's text form.
protocol PostgresParameter {
    var postgresText: String { get }
}

extension String: PostgresParameter { var postgresText: String { self } }
extension Int64: PostgresParameter { var postgresText: String { String(self) } }
extension Int: PostgresParameter { var postgresText: String { String(self) } }
extension Bool: PostgresParameter { var postgresText: String { self ? "t" : "f" } }

/// A one-dimensional array parameter (`$1::text[]`, `$1::bigint[]`), for set-based statements.
struct PostgresArray: PostgresParameter {
    let postgresText: String

    init(_ values: [String?]) {
        var text = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            guard let value else {
                text += "NULL"
                continue
            }
            text += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { text += "\\" }
                text.unicodeScalars.append(character)
            }
            text += "\""
        }
        postgresText = text + "}"
    }

    init(_ values: [Int64?]) {
        postgresText = "{" + values.map { $0.map(String.init) ?? "NULL" }.joined(separator: ",") + "}"
    }

    init(_ values: [Int64]) {
        postgresText = "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}

/// The rows a statement returned; valid while it is alive.
final class PostgresResult {
    fileprivate let result: OpaquePointer

    fileprivate init(_ result: OpaquePointer) { self.result = result }
    deinit { PQclear(result) }

    var count: Int { Int(PQntuples(result)) }
    /// Rows changed by an INSERT, UPDATE or DELETE.
    var affected: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(result, Int32(row), Int32(column)) == 1 }

    func string(_ row: Int, _ column: Int) -> String {
        String(cString: PQgetvalue(result, Int32(row), Int32(column)))
    }

    func stringOrNil(_ row: Int, _ column: Int) -> String? {
        isNull(row, column) ? nil : string(row, column)
    }

    func int64(_ row: Int, _ column: Int) -> Int64 {
        Int64(String(cString: PQgetvalue(result, Int32(row), Int32(column)))) ?? 0
    }

    func int64OrNil(_ row: Int, _ column: Int) -> Int64? {
        isNull(row, column) ? nil : int64(row, column)
    }

    func bool(_ row: Int, _ column: Int) -> Bool { string(row, column) == "t" }
}

final class PostgresConnection {
    let url: String
    private let connection: OpaquePointer
    private var prepared: [String: String] = [:]

    init(url: String) throws(PostgresError) {
        self.url = url
        guard let connection = PQconnectdb(url) else {
            throw PostgresError(message: "libpq could not allocate a connection")
        }
        self.connection = connection
        guard PQstatus(connection) == CONNECTION_OK else {
            // deinit closes it.
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresError(message: "cannot connect to \(Self.redacted(url)): \(message)")
        }
        // Notices (e.g. "relation already exists, skipping") are not for the daemon's log.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit { PQfinish(connection) }

    /// False once the server or the network dropped the connection.
    var isHealthy: Bool { PQstatus(connection) == CONNECTION_OK }

    /// Runs one or more statements without parameters.
    func execute(_ sql: String) throws(PostgresError) {
        let result = try check(PQexec(connection, sql), sql: sql)
        _ = result
    }

    /// Runs one statement, prepared on first use on this connection.
    @discardableResult
    func query(_ sql: String, _ parameters: [(any PostgresParameter)?] = []) throws(PostgresError) -> PostgresResult {
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "s\(prepared.count)"
            _ = try check(PQprepare(connection, name, sql, Int32(parameters.count), nil), sql: sql)
            prepared[sql] = name
        }
        let texts: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0.postgresText) } }
        defer { for text in texts { free(text) } }
        let values = texts.map { $0.map { UnsafePointer($0) } }
        return try check(
            PQexecPrepared(connection, name, Int32(values.count), values, nil, nil, 0), sql: sql)
    }

    /// Runs a statement once, without preparing it (statements built from a filter).
    @discardableResult
    func queryOnce(_ sql: String, _ parameters: [(any PostgresParameter)?] = []) throws(PostgresError)
        -> PostgresResult
    {
        let texts: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0.postgresText) } }
        defer { for text in texts { free(text) } }
        let values = texts.map { $0.map { UnsafePointer($0) } }
        return try check(PQexecParams(connection, sql, Int32(values.count), nil, values, nil, nil, 0), sql: sql)
    }

    /// The socket, for waiting on notifications.
    var socket: Int32 { PQsocket(connection) }

    /// Reads what arrived on the socket and returns the notifications among it: (channel, payload).
    func notifications() throws(PostgresError) -> [(String, String)] {
        guard PQconsumeInput(connection) == 1 else {
            throw PostgresError(message: String(cString: PQerrorMessage(connection)))
        }
        var found: [(String, String)] = []
        while let notify = PQnotifies(connection) {
            found.append((String(cString: notify.pointee.relname), String(cString: notify.pointee.extra)))
            PQfreemem(notify)
        }
        return found
    }

    private func check(_ result: OpaquePointer?, sql: String) throws(PostgresError) -> PostgresResult {
        guard let result else {
            throw PostgresError(message: String(cString: PQerrorMessage(connection)), sql: sql)
        }
        let wrapped = PostgresResult(result)
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresError(sqlState: state, message: message, sql: sql)
        }
        return wrapped
    }

    /// The URL without its password, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? url
    }
}
