// The peer reference: the queue most teams would build instead, on PostgreSQL. One table with a
// state column and a partial index on what is queued; claims with FOR UPDATE SKIP LOCKED; 1,000
// rows per transaction, PostgreSQL's default durability (fsync, synchronous_commit on), on a
// private cluster this benchmark starts on loopback and stops by pid.
internal import CLibPQ
import Foundation
import TestSupport

struct PostgresReference {
    let directory: String
    let peers: String
    let rows: Int
    let batch = 1000

    /// nil, or why the reference cannot run: no PostgreSQL server installed, or not run from the
    /// source tree (where the script that starts a private cluster is).
    static func unavailable(peers: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: peers + "/postgres/start") else {
            return "no \(peers)/postgres/start (run from the source tree)"
        }
        let found = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        if found.contains(where: {
            FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/postgres")
        }) {
            return nil
        }
        return "PostgreSQL is not installed (apt-get install postgresql)"
    }

    func run() throws -> ReferenceRates {
        let cluster = try PostgresCluster(directory: directory + "/postgres", script: peers + "/postgres/start")
        defer { cluster.stop() }
        let db = try PostgresConnection(url: cluster.url)
        try db.exec(
            """
            CREATE TABLE messages (id bigserial PRIMARY KEY, tenant text NOT NULL, channel text NOT NULL,
              recipient text NOT NULL, content text NOT NULL, priority int NOT NULL, idempotency_key text,
              state int NOT NULL, due_at bigint NOT NULL, created_at bigint NOT NULL, sent_at bigint,
              provider_id text, attempts int NOT NULL DEFAULT 0);
            CREATE UNIQUE INDEX messages_by_key ON messages(tenant, idempotency_key);
            CREATE INDEX messages_queued ON messages(channel, due_at, id) WHERE state = 0;
            CREATE TABLE attempts (message_id bigint NOT NULL, seq int NOT NULL, at bigint NOT NULL,
              outcome text NOT NULL, detail text, PRIMARY KEY (message_id, seq));
            """)
        let start = Date()
        var row = 0
        while row < rows {
            let count = min(batch, rows - row)
            let keys = (row..<row + count).map { "raw-\($0)" }.joined(separator: ",")
            let dues = (row..<row + count).map(String.init).joined(separator: ",")
            try db.exec(
                """
                INSERT INTO messages(tenant, channel, recipient, content, priority, idempotency_key, state,
                  due_at, created_at)
                SELECT 'acme', 'bench', '+5511987654321', '{"text":"hello"}', 1, k, 0, d, 0
                FROM unnest($1::text[], $2::bigint[]) AS r(k, d)
                """, ["{\(keys)}", "{\(dues)}"])
            row += count
        }
        let inserted = Date()
        while true {
            try db.exec("BEGIN")
            let claimed = try db.query(
                """
                UPDATE messages SET state = 1 WHERE id IN (
                  SELECT id FROM messages WHERE channel = 'bench' AND state = 0 AND due_at <= $1
                  ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
                RETURNING id, recipient, content
                """, [String(Int64.max), String(batch)])
            try db.exec("COMMIT")
            if claimed.isEmpty { break }
            let ids = "{" + claimed.map { $0[0] }.joined(separator: ",") + "}"
            try db.exec("BEGIN")
            try db.exec(
                "UPDATE messages SET state = 2, sent_at = 1, provider_id = 'x', attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
                [ids])
            try db.exec(
                "INSERT INTO attempts(message_id, seq, at, outcome) SELECT id, 1, 1, 'delivered' FROM unnest($1::bigint[]) AS id",
                [ids])
            try db.exec("COMMIT")
        }
        let cycled = Date()
        db.close()
        return ReferenceRates(
            insertPerSecond: Double(rows) / inserted.timeIntervalSince(start),
            cyclePerSecond: Double(rows) / cycled.timeIntervalSince(start))
    }
}

/// A private cluster run by Tests/Peers/postgres/start, stopped by its pid.
final class PostgresCluster {
    let process = Process()
    let url: String

    init(directory: String, script: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try freePort()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [directory, String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: directory + "/ready") {
            guard process.isRunning, Date() < deadline else {
                throw BenchError("PostgreSQL did not start; see \(directory)/postgres.log")
            }
            usleep(50_000)
        }
        url = "postgresql://leadd@127.0.0.1:\(port)/leadd"
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

/// One libpq connection; statements with text parameters, results as text.
final class PostgresConnection {
    private let connection: OpaquePointer

    init(url: String) throws {
        guard let connection = PQconnectdb(url) else { throw BenchError("libpq: out of memory") }
        self.connection = connection
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw BenchError("cannot connect to \(url): \(message)")
        }
    }

    func exec(_ sql: String, _ parameters: [String] = []) throws { _ = try query(sql, parameters) }

    func query(_ sql: String, _ parameters: [String] = []) throws -> [[String]] {
        // PQexec takes several statements at once; PQexecParams one, with parameters.
        let result =
            parameters.isEmpty
            ? PQexec(connection, sql)
            : withCStrings(parameters) { values in
                PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw BenchError("PostgreSQL: \(String(cString: PQresultErrorMessage(result))) in \(sql.prefix(60))")
        }
        return (0..<PQntuples(result)).map { row in
            (0..<PQnfields(result)).map { String(cString: PQgetvalue(result, row, $0)) }
        }
    }

    func close() { PQfinish(connection) }

    private func withCStrings<T>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> T) -> T {
        let copies = strings.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        return body(copies.map { UnsafePointer($0) })
    }
}
