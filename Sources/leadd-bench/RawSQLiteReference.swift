// The ceiling leadd is measured against: the same queue work done by straight sqlite3 calls,
// 1,000 rows per transaction, on a table clustered by due time, with the same fsync setting.
internal import CSQLite
import Foundation

struct RawSQLiteReference {
    let directory: String
    let rows: Int
    let batch = 1000

    func run() throws -> ReferenceRates {
        let path = directory + "/raw.db"
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw BenchError("cannot open \(path)") }
        defer { sqlite3_close(db) }
        try exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -32768")
        try exec(
            db,
            """
            CREATE TABLE messages (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, channel TEXT NOT NULL,
              recipient TEXT NOT NULL, content TEXT NOT NULL, priority INTEGER NOT NULL, idempotency_key TEXT,
              state INTEGER NOT NULL, due_at INTEGER NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER,
              provider_id TEXT, attempts INTEGER NOT NULL DEFAULT 0);
            CREATE UNIQUE INDEX messages_by_key ON messages(tenant, idempotency_key);
            CREATE TABLE queue (channel TEXT NOT NULL, due_at INTEGER NOT NULL, id INTEGER NOT NULL,
              PRIMARY KEY (channel, due_at, id)) WITHOUT ROWID;
            CREATE TABLE attempts (message_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
              outcome TEXT NOT NULL, detail TEXT, PRIMARY KEY (message_id, seq)) WITHOUT ROWID;
            """)
        let insert = try prepare(
            db,
            "INSERT INTO messages(tenant, channel, recipient, content, priority, idempotency_key, state, due_at, created_at) VALUES (?, 'bench', '+5511987654321', '{\"text\":\"hello\"}', 1, ?, 0, ?, ?)"
        )
        let enqueue = try prepare(db, "INSERT INTO queue(channel, due_at, id) VALUES ('bench', ?, ?)")
        let claim = try prepare(
            db,
            "SELECT q.due_at, q.id, m.recipient, m.content FROM queue q JOIN messages m ON m.id = q.id WHERE q.channel = 'bench' AND q.due_at <= ? ORDER BY q.due_at, q.id LIMIT ?"
        )
        let dequeue = try prepare(db, "DELETE FROM queue WHERE channel = 'bench' AND due_at = ? AND id = ?")
        let mark = try prepare(db, "UPDATE messages SET state = 1 WHERE id = ?")
        let complete = try prepare(
            db, "UPDATE messages SET state = 2, sent_at = ?, provider_id = 'x', attempts = attempts + 1 WHERE id = ?")
        let history = try prepare(
            db, "INSERT INTO attempts(message_id, seq, at, outcome) VALUES (?, 1, ?, 'delivered')")
        defer { for s in [insert, enqueue, claim, dequeue, mark, complete, history] { sqlite3_finalize(s) } }

        let start = Date()
        var row = 0
        while row < rows {
            try exec(db, "BEGIN")
            for _ in 0..<min(batch, rows - row) {
                let key = "raw-\(row)"
                sqlite3_bind_text(insert, 1, "acme", -1, transient)
                sqlite3_bind_text(insert, 2, key, -1, transient)
                sqlite3_bind_int64(insert, 3, Int64(row))
                sqlite3_bind_int64(insert, 4, 0)
                try step(insert)
                let id = sqlite3_last_insert_rowid(db)
                sqlite3_bind_int64(enqueue, 1, Int64(row))
                sqlite3_bind_int64(enqueue, 2, id)
                try step(enqueue)
                row += 1
            }
            try exec(db, "COMMIT")
        }
        let inserted = Date()
        while true {
            try exec(db, "BEGIN")
            sqlite3_bind_int64(claim, 1, Int64.max)
            sqlite3_bind_int64(claim, 2, Int64(batch))
            var claimed: [(Int64, Int64)] = []
            while sqlite3_step(claim) == SQLITE_ROW {
                claimed.append((sqlite3_column_int64(claim, 0), sqlite3_column_int64(claim, 1)))
                _ = sqlite3_column_text(claim, 2)
                _ = sqlite3_column_text(claim, 3)
            }
            sqlite3_reset(claim)
            for (due, id) in claimed {
                sqlite3_bind_int64(dequeue, 1, due)
                sqlite3_bind_int64(dequeue, 2, id)
                try step(dequeue)
                sqlite3_bind_int64(mark, 1, id)
                try step(mark)
            }
            try exec(db, "COMMIT")
            if claimed.isEmpty { break }
            try exec(db, "BEGIN")
            for (_, id) in claimed {
                sqlite3_bind_int64(complete, 1, 1)
                sqlite3_bind_int64(complete, 2, id)
                try step(complete)
                sqlite3_bind_int64(history, 1, id)
                sqlite3_bind_int64(history, 2, 1)
                try step(history)
            }
            try exec(db, "COMMIT")
        }
        let cycled = Date()
        return ReferenceRates(
            insertPerSecond: Double(rows) / inserted.timeIntervalSince(start),
            cyclePerSecond: Double(rows) / cycled.timeIntervalSince(start))
    }

    private func exec(_ db: OpaquePointer, _ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw BenchError("\(String(cString: sqlite3_errmsg(db))) in \(sql.prefix(60))")
        }
    }

    private func prepare(_ db: OpaquePointer, _ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw BenchError("\(String(cString: sqlite3_errmsg(db))) in \(sql.prefix(60))")
        }
        return statement
    }

    private func step(_ statement: OpaquePointer) throws {
        let status = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard status == SQLITE_DONE || status == SQLITE_ROW else { throw BenchError("step failed: \(status)") }
    }
}

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// What a reference queue (raw SQLite, PostgreSQL) achieved on the same rows.
struct ReferenceRates {
    var insertPerSecond: Double
    /// Enqueue + claim + complete, each in 1,000-row transactions: messages fully cycled per second.
    var cyclePerSecond: Double
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
