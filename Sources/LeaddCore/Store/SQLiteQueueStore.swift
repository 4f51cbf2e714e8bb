// The embedded store: one SQLite file in WAL mode.
//
// Writes go through one writer thread that groups every waiting request into one transaction
// (see SQLiteWorker); a request is answered only after that transaction commits. With
// `synchronous = full` (the default) the WAL is also synced before the answer (by WALSyncer, off
// the writer's thread), so an acknowledged request survives power loss; with `normal` it
// survives a crash of leadd but not of the machine.
// Reads use a second connection on a thread of its own and never wait for the writer.
//
// A claim deletes a message's queue row and lists it in a `claims` row, one per claimed batch;
// which messages are in flight is kept in memory (InflightClaims), and the message row changes
// only with its outcome. After a crash, `recoverInflight` puts the listed messages that are
// still waiting back in the queue at their original due time: only those may be sent twice.
import Foundation
import LeaddSync

public final class SQLiteQueueStore: QueueStore {
    public let path: String
    let writer: SQLiteWorker
    let reader: SQLiteWorker
    private let checkpointer: SQLiteCheckpointer
    private let counts: CountsCache
    private let queueObservers = QueueObservers()
    let claims = InflightClaims()
    let lanes = LaneNumbers()
    /// Stops every write when the disk fails a sync (see FailStop).
    let failStop = FailStop()
    /// What default idempotency keys start with in this database (see StoreIdentity).
    let keys: StoreIdentity

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Refuses a file that is not a leadd database, or one from a newer leadd.
    public convenience init(path: String, synchronous: SyncMode = .full, maxBatch: Int = 1000) throws {
        try self.init(
            path: path, synchronous: synchronous, maxBatch: maxBatch, checkpointInterval: 0.2,
            restartFrames: SQLiteCheckpointer.restartFrames)
    }

    /// How often the log is checkpointed, and at what length the writer finishes a checkpoint
    /// itself (see SQLiteCheckpointer).
    init(
        path: String, synchronous: SyncMode, maxBatch: Int, checkpointInterval: TimeInterval, restartFrames: Int64
    ) throws {
        self.path = path
        let writeConnection = try SQLiteConnection(path: path)
        // Identify the file before changing anything in it (even its journal mode).
        let version = try Self.verify(writeConnection, path: path)
        try Self.prepare(writeConnection)
        try Self.migrate(writeConnection, from: version)
        try lanes.load(writeConnection)
        keys = StoreIdentity(prefix: try writeConnection.text("SELECT key_prefix FROM store_identity") ?? "")
        let readConnection = try SQLiteConnection(path: path)
        try readConnection.execute("PRAGMA query_only = ON")
        let checkpointer = try SQLiteCheckpointer(
            path: path, interval: checkpointInterval, restartFrames: restartFrames)
        self.checkpointer = checkpointer

        let initial = try Self.loadCounts(writeConnection)
        let counts = CountsCache(initial)
        self.counts = counts
        let observers = queueObservers
        writer = SQLiteWorker(
            name: "leadd-store-writer", connection: writeConnection,
            mode: .grouped(
                maxJobs: maxBatch, journals: [claims, lanes], syncing: synchronous == .full ? path + "-wal" : nil,
                afterCommit: { effects in counts.apply(effects) },
                // Announced once the requests are answered: an answer never waits on a scheduler.
                afterAnswer: { effects in if !effects.queued.isEmpty { observers.tell(effects.queued) } }),
            failStop: failStop,
            betweenTransactions: { [checkpointer] db in checkpointer.finishOnWriter(db) })
        reader = SQLiteWorker(name: "leadd-store-reader", connection: readConnection, mode: .single)
    }

    static func prepare(_ db: SQLiteConnection) throws {
        let mode = try db.statement("PRAGMA journal_mode = WAL")
        defer { mode.reset() }
        guard try mode.step(), mode.string(0).lowercased() == "wal" else {
            throw SQLiteError(code: 1, message: "cannot switch \(db.path) to WAL mode")
        }
        // Under `full` the writer still commits without a sync: WALSyncer syncs the log before
        // any job of the commit is answered.
        try db.execute("PRAGMA synchronous = NORMAL")
        try db.execute("PRAGMA cache_size = -32768")
        try db.execute("PRAGMA temp_store = MEMORY")
        try db.execute("PRAGMA wal_autocheckpoint = \(SQLiteCheckpointer.writerThreshold)")
        // A log that grew while checkpoints lagged is cut back to this size once it is reset.
        try db.execute("PRAGMA journal_size_limit = 67108864")
    }

    /// The schema version of a leadd database (0 for an empty file); throws for anything else.
    static func verify(_ db: SQLiteConnection, path: String) throws -> Int {
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
        return version
    }

    static func migrate(_ db: SQLiteConnection, from version: Int) throws {
        defer {
            // A new database gets its own key prefix; one upgraded keeps the keys it handed out.
            if version == 0 { try? db.execute(StoreIdentity.newPrefixStatement()) }
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

    static func loadCounts(_ db: SQLiteConnection) throws -> [CommitEffects.Key: Int64] {
        var counts: [CommitEffects.Key: Int64] = [:]
        let s = try db.statement("SELECT channel, state, n FROM counts")
        while try s.step() {
            if let state = MessageState(rawValue: Int(s.int64(1))) {
                counts[CommitEffects.Key(channel: s.string(0), state: state)] = s.int64(2)
            }
        }
        return counts
    }

    public func enqueue(_ messages: [NewMessage], now: Int64) async throws -> [EnqueueResult] {
        try await writer.submit { [lanes] db, effects in
            let statements = try MessageInsert(db, lanes)
            var results: [EnqueueResult] = []
            results.reserveCapacity(messages.count)
            for m in messages { results.append(try statements.insert(m, now: now, db: db, effects: &effects)) }
            return results
        }
    }

    /// The statements that store a new message and queue it, shared by enqueue and lead import.
    struct MessageInsert {
        let insert: SQLiteStatement
        let queue: QueueTable
        let existing: SQLiteStatement

        init(_ db: SQLiteConnection, _ lanes: LaneNumbers) throws {
            insert = try db.statement(
                """
                INSERT INTO messages(tenant, channel, recipient, content, priority, idempotency_key, state, due_at,
                                     created_at, timezone, campaign, lead_id, step)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            queue = try QueueTable(db, lanes)
            existing = try db.statement("SELECT id FROM messages WHERE tenant = ? AND idempotency_key = ?")
        }

        func insert(
            _ m: NewMessage, now: Int64, db: SQLiteConnection, effects: inout CommitEffects
        ) throws -> EnqueueResult {
            insert.reset()
            insert.bind(1, m.tenant)
            insert.bind(2, m.channel)
            insert.bind(3, m.to)
            insert.bind(4, m.contentJSON)
            insert.bind(5, Int64(m.priority.rawValue))
            insert.bind(6, m.idempotencyKey)
            insert.bind(7, m.dueAt)
            insert.bind(8, now)
            insert.bind(9, m.timeZone)
            insert.bind(10, m.campaign)
            insert.bind(11, m.leadID)
            insert.bind(12, m.step.map(Int64.init))
            try insert.run()
            guard db.changes == 1 else {
                existing.reset()
                existing.bind(1, m.tenant)
                existing.bind(2, m.idempotencyKey)
                defer { existing.reset() }
                guard try existing.step() else {
                    throw SQLiteError(code: 19, message: "message refused by the store", sql: nil)
                }
                return EnqueueResult(id: existing.int64(0), duplicate: true)
            }
            let id = db.lastInsertRowID
            let lane = QueueLane(
                priority: m.priority, tenant: m.tenant, zone: m.timeZone ?? "", campaign: m.campaign ?? "")
            try queue.add(
                QueuedRow(channel: m.channel, lane: lane, entry: QueueEntry(dueAt: m.dueAt, id: id)), &effects)
            effects.move(m.channel, from: nil, to: .scheduled)
            return EnqueueResult(id: id, duplicate: false)
        }
    }

    /// The lane of a message row read as (priority, tenant, timezone, campaign) from `column` on.
    static func lane(_ s: SQLiteStatement, from column: Int32) -> QueueLane {
        QueueLane(
            priority: Priority(rawValue: Int(s.int64(column))) ?? .normal, tenant: s.string(column + 1),
            zone: s.stringOrNil(column + 2) ?? "", campaign: s.stringOrNil(column + 3) ?? "")
    }

    public func observeQueue(_ observer: @escaping @Sendable ([QueuedRow]) -> Void) {
        queueObservers.add(observer)
    }

    public func queueLanes(channel: String) async throws -> [QueueLane] {
        try await reader.submit { db, _ in
            // One seek per lane the channel has had since the last prune (see LaneNumbers).
            let s = try db.statement(
                """
                SELECT priority, tenant, zone, campaign FROM lanes
                WHERE channel = ? AND EXISTS (SELECT 1 FROM queue WHERE queue.lane = lanes.id)
                ORDER BY priority, tenant, zone, campaign
                """)
            defer { s.reset() }
            s.bind(1, channel)
            var lanes: [QueueLane] = []
            while try s.step() { lanes.append(Self.lane(s, from: 0)) }
            return lanes
        }
    }

    public func queued(
        channel: String, lane: QueueLane, after: QueueEntry?, dueBy: Int64, limit: Int
    ) async throws -> [QueueEntry] {
        try await reader.submit { db, _ in
            let s = try db.statement(
                """
                SELECT due_at, id FROM queue
                WHERE lane = (SELECT id FROM lanes WHERE channel = ?1 AND priority = ?2 AND tenant = ?3 AND zone = ?8
                              AND campaign = ?9)
                AND (due_at, id) > (?4, ?5) AND due_at <= ?7 ORDER BY due_at, id LIMIT ?6
                """)
            defer { s.reset() }
            s.bind(1, channel)
            s.bind(2, Int64(lane.priority.rawValue))
            s.bind(3, lane.tenant)
            s.bind(4, after?.dueAt ?? Int64.min)
            s.bind(5, after?.id ?? Int64.min)
            s.bind(6, Int64(limit))
            s.bind(7, dueBy)
            s.bind(8, lane.zone)
            s.bind(9, lane.campaign)
            var entries: [QueueEntry] = []
            while try s.step() { entries.append(QueueEntry(dueAt: s.int64(0), id: s.int64(1))) }
            return entries
        }
    }

    public func release(_ messages: [ClaimedMessage], to state: MessageState) async throws {
        guard !messages.isEmpty else { return }
        precondition([.scheduled, .paused, .cancelled].contains(state), "release to \(state)")
        try await writer.submit { [claims, lanes] db, deltas in
            let (inFlight, emptied) = claims.settle(messages.map(\.id))
            let update = try db.statement("UPDATE messages SET state = ? WHERE id = ? AND state = 0")
            let queue = try QueueTable(db, lanes)
            for (m, held) in zip(messages, inFlight) where held {
                deltas.move(m.channel, from: .inflight, to: state)
                guard state == .scheduled else {
                    update.reset()
                    update.bind(1, Int64(state.rawValue))
                    update.bind(2, m.id)
                    try update.run()
                    continue
                }
                let lane = QueueLane(
                    priority: m.priority, tenant: m.tenant, zone: m.timeZone ?? "", campaign: m.campaign ?? "")
                try queue.add(
                    QueuedRow(channel: m.channel, lane: lane, entry: QueueEntry(dueAt: m.dueAt, id: m.id)), &deltas)
            }
            try Self.deleteClaims(emptied, db)
        }
    }

    /// Runs a history insert for outcome `o`; true when it added the line.
    private static func appendLine(_ insert: SQLiteStatement, _ o: DeliveryOutcome, _ db: SQLiteConnection) throws
        -> Bool
    {
        insert.reset()
        insert.bind(1, o.id)
        insert.bind(2, o.at)
        insert.bind(3, o.word)
        insert.bind(4, o.detail)
        insert.bind(5, o.sender)
        try insert.run()
        return db.changes == 1
    }

    /// Deletes claims rows none of whose messages is in flight any more.
    static func deleteClaims(_ batches: [Int64], _ db: SQLiteConnection) throws {
        guard !batches.isEmpty else { return }
        let delete = try db.statement("DELETE FROM claims WHERE batch = ?")
        for batch in batches {
            delete.reset()
            delete.bind(1, batch)
            try delete.run()
        }
    }

    public func claim(channel: String, _ picks: [QueuedRow]) async throws -> [ClaimedMessage] {
        guard !picks.isEmpty else { return [] }
        return try await writer.submit { [claims, lanes, keys] db, deltas in
            // The queue row is the claim: a message cancelled or claimed since it was read has none.
            let queue = try QueueTable(db, lanes)
            // A plain read and update: RETURNING would buffer each row in a temporary table.
            let read = try db.statement(
                """
                SELECT recipient, content, idempotency_key, attempts, created_at, lead_id, step
                FROM messages WHERE id = ? AND state = 0
                """
            )
            var claimed: [ClaimedMessage] = []
            claimed.reserveCapacity(picks.count)
            for pick in picks {
                guard try queue.remove(QueuedRow(channel: channel, lane: pick.lane, entry: pick.entry)) else {
                    continue
                }
                read.reset()
                read.bind(1, pick.entry.id)
                guard try read.step() else { continue }
                let id = pick.entry.id
                claimed.append(
                    ClaimedMessage(
                        id: id, tenant: pick.lane.tenant, channel: channel, to: read.string(0),
                        contentJSON: read.string(1),
                        idempotencyKey: keys.key(id: id, given: read.stringOrNil(2)),
                        dueAt: pick.entry.dueAt, attemptCount: Int(read.int64(3)), createdAt: read.int64(4),
                        priority: pick.lane.priority, timeZone: pick.lane.zone.isEmpty ? nil : pick.lane.zone,
                        campaign: pick.lane.campaign.isEmpty ? nil : pick.lane.campaign, leadID: read.int64OrNil(5),
                        step: read.int64OrNil(6).map { Int($0) }))
                read.reset()
            }
            guard !claimed.isEmpty else { return claimed }
            let ids = claimed.map(\.id)
            let list = try db.statement("INSERT INTO claims(ids) VALUES (?)")
            list.bind(1, ids: ids)
            try list.run()
            claims.add(batch: db.lastInsertRowID, claimed.map { ($0.id, channel, $0.campaign) })
            deltas.move(channel, from: .scheduled, to: .inflight, count: Int64(claimed.count))
            return claimed
        }
    }

    public func record(_ outcomes: [DeliveryOutcome]) async throws {
        try await writer.submit { [claims, lanes] db, deltas in
            // Only a message in flight takes an outcome, so recording twice is harmless.
            let (inFlight, emptied) = claims.settle(outcomes.map(\.id))
            let sent = try db.statement(
                "UPDATE messages SET state = 2, sent_at = ?, provider_id = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND state = 0"
            )
            let retry = try db.statement(
                """
                UPDATE messages SET state = 0, due_at = ?, attempts = attempts + 1, last_error = ?
                WHERE id = ? AND state = 0 RETURNING priority, tenant, timezone, campaign
                """)
            let deferred = try db.statement(
                "UPDATE messages SET state = 0, due_at = ?, last_error = ? WHERE id = ? AND state = 0 RETURNING priority, tenant, timezone, campaign"
            )
            let final = try db.statement(
                "UPDATE messages SET state = ?, attempts = attempts + 1, last_error = ? WHERE id = ? AND state = 0")
            // Not a try: the message never reached the plugin.
            let suppressed = try db.statement(
                "UPDATE messages SET state = ?, last_error = ? WHERE id = ? AND state = 0")
            let queue = try QueueTable(db, lanes)
            // Most outcomes are a message's first history line: tried as line 1 without looking
            // up the last one. Lines are numbered densely and never deleted, so line 1 is free only
            // when there is none yet; otherwise the insert changes nothing and the numbered one runs.
            let first = try db.statement(
                """
                INSERT INTO attempts(message_id, seq, at, outcome, detail, sender)
                VALUES (?1, 1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING
                """)
            let next = try db.statement(
                """
                INSERT INTO attempts(message_id, seq, at, outcome, detail, sender)
                VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM attempts WHERE message_id = ?1), ?2, ?3, ?4, ?5)
                """)
            var moves: [String: [MessageState: Int64]] = [:]
            for (o, held) in zip(outcomes, inFlight) where held {
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
                case .cancelled:
                    newState = .cancelled
                    statement = suppressed
                    statement.reset()
                    statement.bind(1, Int64(newState.rawValue))
                    statement.bind(2, o.detail)
                }
                statement.bind(3, o.id)
                if let requeueAt {
                    // RETURNING gives the lane; no row means the message was not waiting for an outcome.
                    guard try statement.step() else { continue }
                    let lane = Self.lane(statement, from: 0)
                    statement.reset()
                    try queue.add(
                        QueuedRow(channel: o.channel, lane: lane, entry: QueueEntry(dueAt: requeueAt, id: o.id)),
                        &deltas)
                } else {
                    try statement.run()
                    guard db.changes == 1 else { continue }
                }
                if try !Self.appendLine(first, o, db) { _ = try Self.appendLine(next, o, db) }
                moves[o.channel, default: [:]][newState, default: 0] += 1
            }
            // Counted per channel and state once, not hashed per message.
            for (channel, states) in moves {
                for (state, n) in states { deltas.move(channel, from: .inflight, to: state, count: n) }
            }
            try Self.deleteClaims(emptied, db)
        }
    }

    public func message(id: Int64) async throws -> StoredMessage? {
        try await reader.submit { [claims, keys] db, _ in
            let s = try db.statement(
                """
                SELECT tenant, channel, recipient, content, priority, idempotency_key, state, due_at, created_at,
                       sent_at, provider_id, attempts, last_error, timezone, campaign, step, lead_id
                FROM messages WHERE id = ?
                """)
            s.bind(1, id)
            defer { s.reset() }
            guard try s.step() else { return nil }
            var message = StoredMessage(
                id: id, tenant: s.string(0), channel: s.string(1), to: s.string(2), contentJSON: s.string(3),
                priority: Priority(rawValue: Int(s.int64(4))) ?? .normal,
                idempotencyKey: keys.key(id: id, given: s.stringOrNil(5)),
                state: MessageState(rawValue: Int(s.int64(6))) ?? .scheduled, dueAt: s.int64(7), createdAt: s.int64(8),
                sentAt: s.int64OrNil(9), providerID: s.stringOrNil(10), attemptCount: Int(s.int64(11)),
                lastError: s.stringOrNil(12), timeZone: s.stringOrNil(13), campaign: s.stringOrNil(14),
                step: s.int64OrNil(15).map { Int($0) }, leadID: s.int64OrNil(16), attempts: [])
            if message.state == .scheduled, claims.contains(id) { message.state = .inflight }
            let h = try db.statement(
                "SELECT at, outcome, detail, sender FROM attempts WHERE message_id = ? ORDER BY seq")
            h.bind(1, id)
            defer { h.reset() }
            while try h.step() {
                message.attempts.append(
                    AttemptRecord(
                        at: h.int64(0), outcome: h.string(1), detail: h.stringOrNil(2), sender: h.stringOrNil(3)))
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
        return try await writer.submit { [lanes] db, deltas in
            let select = try db.statement(
                "SELECT id, channel, priority, tenant, timezone, campaign FROM messages WHERE \(clause)",
                cached: filter.ids == nil)
            for (index, value) in bindings.enumerated() { select.bind(Int32(index + 1), value) }
            var rows: [(Int64, String, QueueLane)] = []
            while try select.step() {
                let lane = Self.lane(select, from: 2)
                rows.append((select.int64(0), select.string(1), lane))
            }
            select.reset()
            let update =
                state == .scheduled
                ? try db.statement("UPDATE messages SET state = 0, due_at = ?, attempts = 0 WHERE id = ? AND state = 4")
                : try db.statement("UPDATE messages SET state = 5, due_at = ? WHERE id = ? AND state = 4")
            let queue = try QueueTable(db, lanes)
            let history = try db.statement(
                """
                INSERT INTO attempts(message_id, seq, at, outcome, detail)
                VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM attempts WHERE message_id = ?1), ?2, ?3, NULL)
                """)
            for (id, channel, lane) in rows {
                update.reset()
                update.bind(1, now)
                update.bind(2, id)
                try update.run()
                guard db.changes == 1 else { continue }
                if state == .scheduled {
                    try queue.add(
                        QueuedRow(channel: channel, lane: lane, entry: QueueEntry(dueAt: now, id: id)), &deltas)
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

    public func stats() -> QueueStats { counts.stats() }

    public func recoverInflight() async throws -> Int {
        try await writer.submit { [claims, lanes] db, deltas in
            let lists = try db.statement("SELECT ids FROM claims")
            var listed: [Int64] = []
            while try lists.step() { listed += lists.int64s(0) }
            lists.reset()
            let read = try db.statement(
                "SELECT channel, due_at, priority, tenant, timezone, campaign FROM messages WHERE id = ? AND state = 0")
            let queue = try QueueTable(db, lanes)
            let history = try db.statement(
                """
                INSERT INTO attempts(message_id, seq, at, outcome, detail)
                VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM attempts WHERE message_id = ?1), ?2, ?3, ?4)
                """)
            // Stops counted since the message was last given another chance (dlq retry).
            let earlier = try db.statement(
                """
                SELECT count(*) FROM attempts WHERE message_id = ?1 AND outcome = ?2 AND seq > coalesce(
                    (SELECT max(seq) FROM attempts WHERE message_id = ?1 AND outcome = 'dlq-retry'), 0)
                """)
            let bury = try db.statement("UPDATE messages SET state = 4, last_error = ? WHERE id = ? AND state = 0")
            let now = WallClock().nowMilliseconds()
            var recovered = 0
            for id in listed where !claims.contains(id) {
                read.reset()
                read.bind(1, id)
                guard try read.step() else { continue }
                let row = QueuedRow(
                    channel: read.string(0), lane: Self.lane(read, from: 2),
                    entry: QueueEntry(dueAt: read.int64(1), id: id))
                read.reset()
                // A message already queued (released, or retried) was not in flight.
                guard try queue.add(row, &deltas) else { continue }
                earlier.reset()
                earlier.bind(1, id)
                earlier.bind(2, InflightRecovery.word)
                let stops = (try earlier.step() ? earlier.int64(0) : 0) + 1
                earlier.reset()
                func line(_ word: String, _ detail: String) throws {
                    history.reset()
                    history.bind(1, id)
                    history.bind(2, now)
                    history.bind(3, word)
                    history.bind(4, detail)
                    try history.run()
                }
                // The hand-off that was cut short shows in the history, so a copy can be explained.
                try line(InflightRecovery.word, InflightRecovery.detail(nodes: []))
                if stops >= InflightRecovery.poisonLimit {
                    // In flight at every one of these stops: it may be what crashes leadd. Set aside.
                    _ = try queue.remove(row)
                    deltas.queued.removeLast()
                    let reason = InflightRecovery.poison(stops: stops)
                    bury.reset()
                    bury.bind(1, reason)
                    bury.bind(2, id)
                    try bury.run()
                    try line("dead", reason)
                    deltas.move(row.channel, from: .inflight, to: .dead)
                    continue
                }
                deltas.move(row.channel, from: .inflight, to: .scheduled)
                recovered += 1
            }
            try db.execute("DELETE FROM claims")
            return recovered
        }
    }

    /// `handler` is called once, from the store's own thread, when the disk fails a sync and the
    /// store stops taking writes; the daemon ends the process there.
    public func onStorageFailure(_ handler: @escaping @Sendable (String) -> Void) {
        failStop.onFailure(handler)
    }

    public func close() async {
        writer.stop()
        reader.stop()
        checkpointer.stop()
    }
}

/// Message counts by channel and state, mirrored in memory after each commit.
final class CountsCache: Sendable {
    let value: Locked<[CommitEffects.Key: Int64]>
    /// Commits sent and not yet applied here, and commits applied: a refresh from the database
    /// (several nodes) is taken only when none was under way while it read.
    private let progress = Locked((pending: 0, finished: 0))

    init(_ initial: [CommitEffects.Key: Int64]) { value = Locked(initial) }

    /// Before a COMMIT whose effects `apply` will add; `commitEnded` after, whatever became of it.
    func commitStarting() { progress.withLock { $0.pending += 1 } }

    func commitEnded() {
        progress.withLock {
            $0.finished += 1
            $0.pending -= 1
        }
    }

    /// Replaces the counts with what `load` reads from the database, unless a commit was under
    /// way meanwhile: its change would be counted twice (read, then applied) or lost. The counts
    /// are then left as they are, for the next refresh.
    func refresh(_ load: () throws -> [CommitEffects.Key: Int64]) rethrows {
        let start = progress.withLock { $0 }
        guard start.pending == 0 else { return }
        let total = try load()
        value.withLock { counts in
            let end = progress.withLock { $0 }
            if end.pending == 0 && end.finished == start.finished { counts = total }
        }
    }

    func stats() -> QueueStats {
        value.withLock { counts in
            var stats = QueueStats()
            for (key, n) in counts where n != 0 { stats.byChannel[key.channel, default: [:]][key.state] = n }
            return stats
        }
    }

    func apply(_ deltas: CommitEffects) {
        value.withLock { counts in
            for (key, n) in deltas.changes where n != 0 { counts[key, default: 0] += n }
        }
    }
}

/// Who hears of rows entering the queue (the channel schedulers).
final class QueueObservers: Sendable {
    private let observers = Locked<[@Sendable ([QueuedRow]) -> Void]>([])

    func add(_ observer: @escaping @Sendable ([QueuedRow]) -> Void) { observers.withLock { $0.append(observer) } }

    func tell(_ rows: [QueuedRow]) {
        for observer in observers.withLock({ $0 }) { observer(rows) }
    }
}
