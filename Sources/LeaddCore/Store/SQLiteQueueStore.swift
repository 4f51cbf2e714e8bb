// The embedded store: one SQLite file in WAL mode.
//
// Writes go through one writer thread that groups every waiting request into one transaction
// (see SQLiteWorker); a request is answered only after that transaction commits. With
// `synchronous = full` (the default) the commit fsyncs the WAL, so an acknowledged request
// survives power loss; with `normal` it survives a crash of leadd but not of the machine.
// Reads use a second connection on a thread of its own and never wait for the writer.
//
// Claims move a message from the `queue` table to the in-flight state in the same transaction;
// outcomes move it on. After a crash, `recoverInflight` puts in-flight messages back in the
// queue at their original due time: only those may be sent twice.
import Foundation
import Synchronization

public final class SQLiteQueueStore: QueueStore {
    public let path: String
    private let writer: SQLiteWorker
    private let reader: SQLiteWorker
    private let counts: CountsCache

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Refuses a file that is not a leadd database, or one from a newer leadd.
    public init(path: String, synchronous: SyncMode = .full, maxBatch: Int = 1000) throws {
        self.path = path
        let writeConnection = try SQLiteConnection(path: path)
        try Self.prepare(writeConnection, synchronous: synchronous)
        try Self.migrate(writeConnection, path: path)
        let readConnection = try SQLiteConnection(path: path)
        try readConnection.execute("PRAGMA query_only = ON")

        let initial = try Self.loadCounts(writeConnection)
        let counts = CountsCache(initial)
        self.counts = counts
        writer = SQLiteWorker(
            name: "leadd-store-writer", connection: writeConnection,
            mode: .grouped(
                maxJobs: maxBatch,
                afterCommit: { deltas in counts.apply(deltas) }))
        reader = SQLiteWorker(name: "leadd-store-reader", connection: readConnection, mode: .single)
    }

    static func prepare(_ db: SQLiteConnection, synchronous: SyncMode) throws {
        let mode = try db.statement("PRAGMA journal_mode = WAL")
        defer { mode.reset() }
        guard try mode.step(), mode.string(0).lowercased() == "wal" else {
            throw SQLiteError(code: 1, message: "cannot switch \(db.path) to WAL mode")
        }
        try db.execute("PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL")")
        try db.execute("PRAGMA cache_size = -32768")
        try db.execute("PRAGMA temp_store = MEMORY")
    }

    static func migrate(_ db: SQLiteConnection, path: String) throws {
        let applicationID = try db.scalar("PRAGMA application_id") ?? 0
        let version = Int(try db.scalar("PRAGMA user_version") ?? 0)
        let tables = try db.scalar("SELECT count(*) FROM sqlite_schema") ?? 0
        if applicationID != Schema.applicationID {
            guard applicationID == 0, tables == 0 else {
                throw SQLiteError(
                    code: 26,
                    message: "\(path) is not a leadd database (application_id \(applicationID)); refusing to touch it")
            }
        }
        guard version <= Schema.migrations.count else {
            throw SQLiteError(
                code: 1,
                message:
                    "\(path) has schema version \(version), newer than this leadd knows (\(Schema.migrations.count))")
        }
        for (index, sql) in Schema.migrations.enumerated() where index >= version {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(sql)
                try db.execute("PRAGMA application_id = \(Schema.applicationID)")
                try db.execute("PRAGMA user_version = \(index + 1)")
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }

    static func loadCounts(_ db: SQLiteConnection) throws -> [CountDeltas.Key: Int64] {
        var counts: [CountDeltas.Key: Int64] = [:]
        let s = try db.statement("SELECT channel, state, n FROM counts")
        while try s.step() {
            if let state = MessageState(rawValue: Int(s.int64(1))) {
                counts[CountDeltas.Key(channel: s.string(0), state: state)] = s.int64(2)
            }
        }
        return counts
    }

    public func enqueue(_ messages: [NewMessage], now: Int64) async throws -> [EnqueueResult] {
        try await writer.submit { db, deltas in
            let insert = try db.statement(
                """
                INSERT INTO messages(tenant, channel, recipient, content, priority, idempotency_key, state, due_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING
                """)
            let queue = try db.statement("INSERT INTO queue(channel, due_at, id) VALUES (?, ?, ?)")
            let existing = try db.statement("SELECT id FROM messages WHERE tenant = ? AND idempotency_key = ?")
            var results: [EnqueueResult] = []
            results.reserveCapacity(messages.count)
            for m in messages {
                insert.reset()
                insert.bind(1, m.tenant)
                insert.bind(2, m.channel)
                insert.bind(3, m.to)
                insert.bind(4, m.contentJSON)
                insert.bind(5, Int64(m.priority.rawValue))
                insert.bind(6, m.idempotencyKey)
                insert.bind(7, m.dueAt)
                insert.bind(8, now)
                try insert.run()
                if db.changes == 1 {
                    let id = db.lastInsertRowID
                    queue.reset()
                    queue.bind(1, m.channel)
                    queue.bind(2, m.dueAt)
                    queue.bind(3, id)
                    try queue.run()
                    deltas.move(m.channel, from: nil, to: .scheduled)
                    results.append(EnqueueResult(id: id, duplicate: false))
                } else {
                    existing.reset()
                    existing.bind(1, m.tenant)
                    existing.bind(2, m.idempotencyKey)
                    guard try existing.step() else {
                        throw SQLiteError(code: 19, message: "message refused by the store", sql: nil)
                    }
                    results.append(EnqueueResult(id: existing.int64(0), duplicate: true))
                }
            }
            return results
        }
    }

    public func claimDue(channel: String, now: Int64, limit: Int) async throws -> [ClaimedMessage] {
        try await writer.submit { db, deltas in
            let select = try db.statement(
                """
                SELECT q.due_at, q.id, m.tenant, m.recipient, m.content, m.idempotency_key, m.attempts, m.created_at
                FROM queue q JOIN messages m ON m.id = q.id
                WHERE q.channel = ? AND q.due_at <= ? ORDER BY q.due_at, q.id LIMIT ?
                """)
            select.bind(1, channel)
            select.bind(2, now)
            select.bind(3, Int64(limit))
            var claimed: [ClaimedMessage] = []
            while try select.step() {
                let id = select.int64(1)
                claimed.append(
                    ClaimedMessage(
                        id: id, tenant: select.string(2), channel: channel, to: select.string(3),
                        contentJSON: select.string(4),
                        idempotencyKey: effectiveIdempotencyKey(id: id, given: select.stringOrNil(5)),
                        dueAt: select.int64(0), attemptCount: Int(select.int64(6)), createdAt: select.int64(7)))
            }
            select.reset()
            guard !claimed.isEmpty else { return claimed }
            let delete = try db.statement("DELETE FROM queue WHERE channel = ? AND due_at = ? AND id = ?")
            let mark = try db.statement("UPDATE messages SET state = 1 WHERE id = ?")
            for m in claimed {
                delete.reset()
                delete.bind(1, channel)
                delete.bind(2, m.dueAt)
                delete.bind(3, m.id)
                try delete.run()
                mark.reset()
                mark.bind(1, m.id)
                try mark.run()
            }
            deltas.move(channel, from: .scheduled, to: .inflight, count: Int64(claimed.count))
            return claimed
        }
    }

    public func record(_ outcomes: [DeliveryOutcome]) async throws {
        try await writer.submit { db, deltas in
            // Every update applies only to a message still in flight, so recording twice is harmless.
            let sent = try db.statement(
                "UPDATE messages SET state = 2, sent_at = ?, provider_id = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND state = 1"
            )
            let retry = try db.statement(
                "UPDATE messages SET state = 0, due_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ? AND state = 1"
            )
            let deferred = try db.statement(
                "UPDATE messages SET state = 0, due_at = ?, last_error = ? WHERE id = ? AND state = 1")
            let final = try db.statement(
                "UPDATE messages SET state = ?, attempts = attempts + 1, last_error = ? WHERE id = ? AND state = 1")
            let queue = try db.statement("INSERT INTO queue(channel, due_at, id) VALUES (?, ?, ?)")
            let history = try db.statement(
                """
                INSERT INTO attempts(message_id, seq, at, outcome, detail)
                VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM attempts WHERE message_id = ?1), ?2, ?3, ?4)
                """)
            for o in outcomes {
                let statement: SQLiteStatement
                let newState: MessageState
                var requeueAt: Int64?
                switch o.kind {
                case .sent(let providerID):
                    statement = sent
                    statement.reset()
                    statement.bind(1, o.at)
                    statement.bind(2, providerID)
                    newState = .sent
                case .retry(let at), .deferred(let at):
                    statement = o.kind == .deferred(at: at) ? deferred : retry
                    statement.reset()
                    statement.bind(1, at)
                    statement.bind(2, o.detail)
                    newState = .scheduled
                    requeueAt = at
                case .failed, .dead:
                    newState = o.kind == .failed ? .failed : .dead
                    statement = final
                    statement.reset()
                    statement.bind(1, Int64(newState.rawValue))
                    statement.bind(2, o.detail)
                }
                statement.bind(3, o.id)
                try statement.run()
                guard db.changes == 1 else { continue }
                if let requeueAt {
                    queue.reset()
                    queue.bind(1, o.channel)
                    queue.bind(2, requeueAt)
                    queue.bind(3, o.id)
                    try queue.run()
                }
                history.reset()
                history.bind(1, o.id)
                history.bind(2, o.at)
                history.bind(3, o.word)
                history.bind(4, o.detail)
                try history.run()
                deltas.move(o.channel, from: .inflight, to: newState)
            }
        }
    }

    public func nextDueTime(channel: String) async throws -> Int64? {
        try await reader.submit { db, _ in
            let s = try db.statement("SELECT due_at FROM queue WHERE channel = ? ORDER BY due_at LIMIT 1")
            s.bind(1, channel)
            defer { s.reset() }
            return try s.step() ? s.int64(0) : nil
        }
    }

    public func dueCount(now: Int64, cap: Int) async throws -> Int {
        try await reader.submit { db, _ in
            let s = try db.statement("SELECT count(*) FROM (SELECT 1 FROM queue WHERE due_at <= ? LIMIT ?)")
            s.bind(1, now)
            s.bind(2, Int64(cap))
            defer { s.reset() }
            return try s.step() ? Int(s.int64(0)) : 0
        }
    }

    public func message(id: Int64) async throws -> StoredMessage? {
        try await reader.submit { db, _ in
            let s = try db.statement(
                """
                SELECT tenant, channel, recipient, content, priority, idempotency_key, state, due_at, created_at,
                       sent_at, provider_id, attempts, last_error
                FROM messages WHERE id = ?
                """)
            s.bind(1, id)
            defer { s.reset() }
            guard try s.step() else { return nil }
            var message = StoredMessage(
                id: id, tenant: s.string(0), channel: s.string(1), to: s.string(2), contentJSON: s.string(3),
                priority: Priority(rawValue: Int(s.int64(4))) ?? .normal,
                idempotencyKey: effectiveIdempotencyKey(id: id, given: s.stringOrNil(5)),
                state: MessageState(rawValue: Int(s.int64(6))) ?? .scheduled, dueAt: s.int64(7), createdAt: s.int64(8),
                sentAt: s.int64OrNil(9), providerID: s.stringOrNil(10), attemptCount: Int(s.int64(11)),
                lastError: s.stringOrNil(12), attempts: [])
            let h = try db.statement("SELECT at, outcome, detail FROM attempts WHERE message_id = ? ORDER BY seq")
            h.bind(1, id)
            defer { h.reset() }
            while try h.step() {
                message.attempts.append(AttemptRecord(at: h.int64(0), outcome: h.string(1), detail: h.stringOrNil(2)))
            }
            return message
        }
    }

    /// The WHERE clause and bindings selecting dead messages that match a filter.
    private static func deadClause(_ filter: DeadLetterFilter) -> (String, [String?]) {
        var clause = "state = 4"
        var bindings: [String?] = []
        if let ids = filter.ids { clause += " AND id IN (\(ids.map(String.init).joined(separator: ",")))" }
        let conditions: [(String, String?)] = [
            ("tenant = ?", filter.tenant), ("channel = ?", filter.channel), ("campaign = ?", filter.campaign),
            ("instr(last_error, ?) > 0", filter.error),
        ]
        for case (let condition, let value?) in conditions {
            clause += " AND " + condition
            bindings.append(value)
        }
        return (clause, bindings)
    }

    public func deadLetters(_ filter: DeadLetterFilter, after: Int64, limit: Int) async throws -> [StoredMessage] {
        let (clause, bindings) = Self.deadClause(filter)
        let ids: [Int64] = try await reader.submit { db, _ in
            let s = try db.statement(
                "SELECT id FROM messages WHERE \(clause) AND id > ? ORDER BY id LIMIT ?", cached: filter.ids == nil)
            for (index, value) in bindings.enumerated() { s.bind(Int32(index + 1), value) }
            s.bind(Int32(bindings.count + 1), after)
            s.bind(Int32(bindings.count + 2), Int64(limit))
            defer { s.reset() }
            var ids: [Int64] = []
            while try s.step() { ids.append(s.int64(0)) }
            return ids
        }
        var messages: [StoredMessage] = []
        for id in ids { if let m = try await message(id: id) { messages.append(m) } }
        return messages
    }

    public func retryDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int {
        try await moveDeadLetters(filter, now: now, to: .scheduled)
    }

    public func purgeDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int {
        try await moveDeadLetters(filter, now: now, to: .cancelled)
    }

    private func moveDeadLetters(_ filter: DeadLetterFilter, now: Int64, to state: MessageState) async throws -> Int {
        let (clause, bindings) = Self.deadClause(filter)
        return try await writer.submit { db, deltas in
            let select = try db.statement("SELECT id, channel FROM messages WHERE \(clause)", cached: filter.ids == nil)
            for (index, value) in bindings.enumerated() { select.bind(Int32(index + 1), value) }
            var rows: [(Int64, String)] = []
            while try select.step() { rows.append((select.int64(0), select.string(1))) }
            select.reset()
            let update =
                state == .scheduled
                ? try db.statement("UPDATE messages SET state = 0, due_at = ?, attempts = 0 WHERE id = ? AND state = 4")
                : try db.statement("UPDATE messages SET state = 5, due_at = ? WHERE id = ? AND state = 4")
            let queue = try db.statement("INSERT OR IGNORE INTO queue(channel, due_at, id) VALUES (?, ?, ?)")
            let history = try db.statement(
                """
                INSERT INTO attempts(message_id, seq, at, outcome, detail)
                VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM attempts WHERE message_id = ?1), ?2, ?3, NULL)
                """)
            for (id, channel) in rows {
                update.reset()
                update.bind(1, now)
                update.bind(2, id)
                try update.run()
                guard db.changes == 1 else { continue }
                if state == .scheduled {
                    queue.reset()
                    queue.bind(1, channel)
                    queue.bind(2, now)
                    queue.bind(3, id)
                    try queue.run()
                }
                history.reset()
                history.bind(1, id)
                history.bind(2, now)
                history.bind(3, state == .scheduled ? "dlq-retry" : "dlq-purge")
                try history.run()
                deltas.move(channel, from: .dead, to: state)
            }
            return rows.count
        }
    }

    public func stats() async -> QueueStats {
        counts.value.withLock { counts in
            var stats = QueueStats()
            for (key, n) in counts where n != 0 { stats.byChannel[key.channel, default: [:]][key.state] = n }
            return stats
        }
    }

    public func recoverInflight() async throws -> Int {
        try await writer.submit { db, deltas in
            let select = try db.statement("SELECT id, channel, due_at FROM messages WHERE state = 1")
            var rows: [(Int64, String, Int64)] = []
            while try select.step() { rows.append((select.int64(0), select.string(1), select.int64(2))) }
            select.reset()
            let mark = try db.statement("UPDATE messages SET state = 0 WHERE id = ?")
            let queue = try db.statement("INSERT OR IGNORE INTO queue(channel, due_at, id) VALUES (?, ?, ?)")
            for (id, channel, dueAt) in rows {
                mark.reset()
                mark.bind(1, id)
                try mark.run()
                queue.reset()
                queue.bind(1, channel)
                queue.bind(2, dueAt)
                queue.bind(3, id)
                try queue.run()
                deltas.move(channel, from: .inflight, to: .scheduled)
            }
            return rows.count
        }
    }

    public func close() async {
        writer.stop()
        reader.stop()
    }
}

/// Message counts by channel and state, mirrored in memory after each commit.
final class CountsCache: Sendable {
    let value: Mutex<[CountDeltas.Key: Int64]>

    init(_ initial: [CountDeltas.Key: Int64]) { value = Mutex(initial) }

    func apply(_ deltas: CountDeltas) {
        value.withLock { counts in
            for (key, n) in deltas.changes where n != 0 { counts[key, default: 0] += n }
        }
    }
}
