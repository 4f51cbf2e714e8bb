// The store for several nodes: PostgreSQL, shared by every leadd node of an installation.
//
// Each write is one transaction on one of the pool's connections; it returns once committed
// (PostgreSQL's durability: fsync of its WAL unless the server is told otherwise). The queue
// row is the claim, as in the embedded store: a claim deletes it (`FOR UPDATE SKIP LOCKED`, so
// two nodes never wait on or take the same row) and marks the message in flight, held by this
// node (`claimed_by`). A node that stops renewing its lease in `nodes` is dead to the others
// after `lease`; one of them puts its in-flight messages back in the queue (ClusterMembership).
//
// Tenants are shared out between the live nodes by rendezvous hashing, so each tenant (and its
// campaigns) is served by one node at a time and its limits are kept by that node exactly; the
// queue reads, claims and queue announcements of a node cover its own tenants only. Rows that
// other nodes add reach this node as lane notices through LISTEN/NOTIFY (QueueListener).
import Foundation
import LeaddSync
import Logging

public final class PostgresQueueStore: QueueStore, PostgresQueueStoreHandle {
    public struct Settings: Sendable {
        public var url: String
        public var pool = 4
        /// This node's name: unique in the installation, stable across restarts.
        public var node: String
        /// How long a silent node keeps its in-flight messages before others take them back.
        public var lease: Duration = .seconds(15)

        public init(url: String, pool: Int = 4, node: String, lease: Duration = .seconds(15)) {
            self.url = url
            self.pool = pool
            self.node = node
            self.lease = lease
        }
    }

    public let settings: Settings
    public var node: String { settings.node }
    let pool: PostgresPool
    let counts: CountsCache
    let membership: ClusterMembership
    private let queueObservers = QueueObservers()
    let laneObservers = Locked<[@Sendable ([ReopenedLane]) -> Void]>([])
    private let logger: Logger
    private let link = Locked<ClusterLink?>(nil)
    /// What default idempotency keys start with in this database (see StoreIdentity).
    let keys: StoreIdentity

    /// Connects, brings the schema up to date and registers this node; refuses a node name that a
    /// live process elsewhere holds.
    public init(_ settings: Settings, logger: Logger = Logger(label: "leadd.store")) throws {
        self.settings = settings
        self.logger = logger
        let bootstrap = try PostgresConnection(url: settings.url)
        try Self.migrate(bootstrap)
        let prefix = try bootstrap.query("SELECT key_prefix FROM store_identity")
        keys = StoreIdentity(prefix: prefix.count > 0 ? prefix.string(0, 0) : "")
        let membership = try ClusterMembership(settings: settings, connection: bootstrap)
        self.membership = membership
        let counts = CountsCache(try Self.loadCounts(bootstrap))
        self.counts = counts
        let observers = queueObservers
        let node = settings.node
        pool = try PostgresPool(
            url: settings.url, size: max(1, settings.pool), slot: settings.node, counts: counts,
            beforeCommit: { db, slot, effects in try Self.beforeCommit(db, slot: slot, node: node, effects) },
            afterCommit: { effects in
                Self.afterCommit(effects, counts: counts, observers: observers, membership: membership)
            })
        let link = ClusterLink(url: settings.url, store: self, logger: logger)
        self.link.withLock { $0 = link }
        link.start(connection: bootstrap)
    }

    static func beforeCommit(_ db: PostgresConnection, slot: String, node: String, _ effects: CommitEffects) throws {
        try writeCounts(db, slot: slot, effects)
        try ClusterLink.announce(db, node: node, effects.queued)
    }

    static func afterCommit(
        _ effects: CommitEffects, counts: CountsCache, observers: QueueObservers, membership: ClusterMembership
    ) {
        counts.apply(effects)
        let mine = effects.queued.filter { membership.owns($0.lane.tenant) }
        if !mine.isEmpty { observers.tell(mine) }
    }

    // MARK: - Cluster

    func owns(_ tenant: String) -> Bool { membership.owns(tenant) }

    func beat(_ db: PostgresConnection) throws {
        let beat = try membership.heartbeat(db)
        if !beat.dead.isEmpty {
            // Messages in flight on a node that stopped renewing its lease are due again here.
            var effects = CommitEffects()
            try db.execute("BEGIN")
            do {
                let n = try Self.takeBack(
                    db, from: beat.dead, detail: InflightRecovery.detail(nodes: beat.dead), effects: &effects)
                try Self.beforeCommit(db, slot: node + "/cluster", node: node, effects)
                counts.commitStarting()
                defer { counts.commitEnded() }
                try db.execute("COMMIT")
                Self.afterCommit(effects, counts: counts, observers: queueObservers, membership: membership)
                try membership.forget(beat.dead, db)
                logger.warning(
                    "nodes \(beat.dead.joined(separator: ", ")) stopped renewing their lease; \(n) of their messages in flight are due again"
                )
            } catch {
                if db.isHealthy { try? db.execute("ROLLBACK") }
                throw error
            }
        }
        try counts.refresh { try Self.loadCounts(db) }
        if beat.before != beat.after {
            logger.info("nodes sharing the store: \(beat.after.joined(separator: ", "))")
            try reopenOwnedLanes(db, onlyNew: beat.before)
        }
    }

    func reopenOwnedLanes(_ db: PostgresConnection, onlyNew previous: [String]?) throws {
        let lanes = try Self.lanesWithDue(db, channel: nil).filter { lane in
            guard membership.owns(lane.lane.tenant) else { return false }
            guard let previous else { return true }
            return ClusterMembership.owner(of: lane.lane.tenant, among: previous) != node
        }
        tellReopened(lanes)
    }

    func leave(_ db: PostgresConnection) throws { try membership.leave(db) }

    static func migrate(_ db: PostgresConnection) throws {
        try db.execute("CREATE TABLE IF NOT EXISTS leadd_schema (version int NOT NULL)")
        try db.execute("BEGIN")
        do {
            try db.query("SELECT pg_advisory_xact_lock($1)", [PostgresSchema.migrationLock])
            let found = try db.query("SELECT version FROM leadd_schema")
            var version = found.count > 0 ? Int(found.int64(0, 0)) : 0
            if found.count == 0 { try db.query("INSERT INTO leadd_schema VALUES (0)") }
            guard version <= PostgresSchema.migrations.count else {
                throw PostgresError(
                    message:
                        "the database has schema version \(version), newer than this leadd knows (\(PostgresSchema.migrations.count))"
                )
            }
            let fresh = version == 0
            while version < PostgresSchema.migrations.count {
                try db.execute(PostgresSchema.migrations[version])
                version += 1
            }
            // A new database gets its own key prefix; one upgraded keeps the keys it handed out.
            if fresh { try db.execute(StoreIdentity.newPrefixStatement()) }
            try db.query("UPDATE leadd_schema SET version = $1", [version])
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    static func loadCounts(_ db: PostgresConnection) throws -> [CommitEffects.Key: Int64] {
        let rows = try db.query("SELECT channel, state, sum(n)::bigint FROM counts GROUP BY channel, state")
        var counts: [CommitEffects.Key: Int64] = [:]
        for row in 0..<rows.count {
            if let state = MessageState(rawValue: Int(rows.int64(row, 1))) {
                counts[CommitEffects.Key(channel: rows.string(row, 0), state: state)] = rows.int64(row, 2)
            }
        }
        return counts
    }

    private static func writeCounts(_ db: PostgresConnection, slot: String, _ effects: CommitEffects) throws {
        let changes = effects.changes.filter { $0.value != 0 }
        guard !changes.isEmpty else { return }
        try db.query(
            """
            INSERT INTO counts(slot, channel, state, n)
            SELECT $1, c, s, n FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS r(c, s, n)
            ON CONFLICT (slot, channel, state) DO UPDATE SET n = counts.n + excluded.n
            """,
            [
                slot, PostgresArray(changes.map { Optional($0.key.channel) }),
                PostgresArray(changes.map { Int64($0.key.state.rawValue) }), PostgresArray(changes.map { $0.value }),
            ])
    }

    // MARK: - The queue

    public func enqueue(_ messages: [NewMessage], now: Int64) async throws -> [EnqueueResult] {
        guard !messages.isEmpty else { return [] }
        return try await pool.write { db, effects in try Self.insert(messages, now: now, db: db, effects: &effects) }
    }

    /// Stores new messages and queues them, in the caller's transaction (enqueue and lead import).
    static func insert(
        _ messages: [NewMessage], now: Int64, db: PostgresConnection, effects: inout CommitEffects
    ) throws -> [EnqueueResult] {
        let ids = try db.query(
            "SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1)", [messages.count])
        let proposed = (0..<messages.count).map { ids.int64($0, 0) }
        let inserted = try db.query(
            """
            INSERT INTO messages(id, tenant, channel, recipient, content, priority, idempotency_key, state, due_at,
                                 created_at, timezone, campaign, lead_id, step)
            SELECT id, tenant, channel, recipient, content, priority, key, 0, due_at, $1, timezone, campaign, lead_id,
                   step
            FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[],
                        $9::bigint[], $10::text[], $11::text[], $12::bigint[], $13::int[])
                 WITH ORDINALITY AS r(id, tenant, channel, recipient, content, priority, key, due_at, timezone,
                                      campaign, lead_id, step, n)
            ORDER BY n
            ON CONFLICT DO NOTHING RETURNING id
            """,
            [
                now, PostgresArray(proposed), PostgresArray(messages.map { Optional($0.tenant) }),
                PostgresArray(messages.map { Optional($0.channel) }), PostgresArray(messages.map { Optional($0.to) }),
                PostgresArray(messages.map { Optional($0.contentJSON) }),
                PostgresArray(messages.map { Int64($0.priority.rawValue) }),
                PostgresArray(messages.map(\.idempotencyKey)), PostgresArray(messages.map(\.dueAt)),
                PostgresArray(messages.map(\.timeZone)), PostgresArray(messages.map(\.campaign)),
                PostgresArray(messages.map(\.leadID)), PostgresArray(messages.map { $0.step.map(Int64.init) }),
            ])
        var stored = Set<Int64>()
        for row in 0..<inserted.count { stored.insert(inserted.int64(row, 0)) }
        var results: [EnqueueResult] = []
        results.reserveCapacity(messages.count)
        var rows: [QueuedRow] = []
        rows.reserveCapacity(stored.count)
        for (m, id) in zip(messages, proposed) {
            if stored.contains(id) {
                let lane = QueueLane(
                    priority: m.priority, tenant: m.tenant, zone: m.timeZone ?? "", campaign: m.campaign ?? "")
                rows.append(QueuedRow(channel: m.channel, lane: lane, entry: QueueEntry(dueAt: m.dueAt, id: id)))
                effects.move(m.channel, from: nil, to: .scheduled)
                results.append(EnqueueResult(id: id, duplicate: false))
                continue
            }
            let existing = try db.query(
                "SELECT id FROM messages WHERE tenant = $1 AND idempotency_key = $2", [m.tenant, m.idempotencyKey])
            guard existing.count == 1 else {
                throw PostgresError(message: "message refused by the store")
            }
            results.append(EnqueueResult(id: existing.int64(0, 0), duplicate: true))
        }
        try addToQueue(rows, db: db, effects: &effects)
        return results
    }

    /// Puts rows in the queue and notes them for the schedulers (here and on the other nodes).
    static func addToQueue(_ rows: [QueuedRow], db: PostgresConnection, effects: inout CommitEffects) throws {
        guard !rows.isEmpty else { return }
        try db.query(
            """
            INSERT INTO queue(id, channel, priority, tenant, zone, campaign, due_at)
            SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bigint[])
            ON CONFLICT DO NOTHING
            """,
            [
                PostgresArray(rows.map(\.entry.id)), PostgresArray(rows.map { Optional($0.channel) }),
                PostgresArray(rows.map { Int64($0.lane.priority.rawValue) }),
                PostgresArray(rows.map { Optional($0.lane.tenant) }),
                PostgresArray(rows.map { Optional($0.lane.zone) }),
                PostgresArray(rows.map { Optional($0.lane.campaign) }), PostgresArray(rows.map(\.entry.dueAt)),
            ])
        effects.queued.append(contentsOf: rows)
    }

    /// The lane of a message read as (priority, tenant, timezone, campaign) from `column` on.
    static func lane(_ r: PostgresResult, _ row: Int, from column: Int) -> QueueLane {
        QueueLane(
            priority: Priority(rawValue: Int(r.int64(row, column))) ?? .normal, tenant: r.string(row, column + 1),
            zone: r.stringOrNil(row, column + 2) ?? "", campaign: r.stringOrNil(row, column + 3) ?? "")
    }

    public func observeQueue(_ observer: @escaping @Sendable ([QueuedRow]) -> Void) {
        queueObservers.add(observer)
    }

    public func observeReopenedLanes(_ observer: @escaping @Sendable ([ReopenedLane]) -> Void) {
        laneObservers.withLock { $0.append(observer) }
    }

    func tellReopened(_ lanes: [ReopenedLane]) {
        guard !lanes.isEmpty else { return }
        for observer in laneObservers.withLock({ $0 }) { observer(lanes) }
    }

    public func queueLanes(channel: String) async throws -> [QueueLane] {
        let lanes = try await Self.lanes(pool: pool, channel: channel)
        return lanes.filter { membership.owns($0.tenant) }
    }

    /// Every lane of `channel` (all channels when nil) that holds queued messages, with its first due time.
    static func lanes(pool: PostgresPool, channel: String?) async throws -> [QueueLane] {
        try await pool.read { db in try lanesWithDue(db, channel: channel).map(\.lane) }
    }

    static func lanesWithDue(_ db: PostgresConnection, channel: String?) throws -> [ReopenedLane] {
        let r = try db.query(
            """
            SELECT channel, priority, tenant, zone, campaign, min(due_at) FROM queue
            WHERE $1::text IS NULL OR channel = $1 GROUP BY channel, priority, tenant, zone, campaign
            """, [channel])
        return (0..<r.count).map { row in
            ReopenedLane(
                channel: r.string(row, 0),
                lane: QueueLane(
                    priority: Priority(rawValue: Int(r.int64(row, 1))) ?? .normal, tenant: r.string(row, 2),
                    zone: r.string(row, 3), campaign: r.string(row, 4)),
                from: r.int64(row, 5))
        }
    }

    public func queued(
        channel: String, lane: QueueLane, after: QueueEntry?, dueBy: Int64, limit: Int
    ) async throws -> [QueueEntry] {
        guard membership.owns(lane.tenant) else { return [] }
        return try await pool.read { db in
            let r = try db.query(
                """
                SELECT due_at, id FROM queue WHERE channel = $1 AND priority = $2 AND tenant = $3 AND zone = $4
                AND campaign = $5 AND (due_at, id) > ($6, $7) AND due_at <= $8 ORDER BY due_at, id LIMIT $9
                """,
                [
                    channel, Int64(lane.priority.rawValue), lane.tenant, lane.zone, lane.campaign,
                    after?.dueAt ?? Int64.min, after?.id ?? Int64.min, dueBy, limit,
                ])
            return (0..<r.count).map { QueueEntry(dueAt: r.int64($0, 0), id: r.int64($0, 1)) }
        }
    }

    public func claim(channel: String, _ picks: [QueuedRow]) async throws -> [ClaimedMessage] {
        // A tenant that moved to another node since it was read is that node's to send.
        let mine = picks.filter { membership.owns($0.lane.tenant) }
        guard !mine.isEmpty else { return [] }
        let (node, keys) = (self.node, self.keys)
        return try await pool.write { db, effects in
            let r = try db.query(
                """
                WITH taken AS (
                    DELETE FROM queue WHERE id IN (
                        SELECT id FROM queue WHERE id = ANY($1::bigint[]) AND channel = $2 FOR UPDATE SKIP LOCKED)
                    RETURNING id)
                UPDATE messages m SET state = 1, claimed_by = $3 FROM taken WHERE m.id = taken.id AND m.state = 0
                RETURNING m.id, m.recipient, m.content, m.idempotency_key, m.attempts, m.created_at, m.lead_id, m.step
                """, [PostgresArray(mine.map(\.entry.id)), channel, node])
            var byID: [Int64: Int] = [:]
            for row in 0..<r.count { byID[r.int64(row, 0)] = row }
            var claimed: [ClaimedMessage] = []
            claimed.reserveCapacity(byID.count)
            for pick in mine {
                let id = pick.entry.id
                guard let row = byID.removeValue(forKey: id) else { continue }
                claimed.append(
                    ClaimedMessage(
                        id: id, tenant: pick.lane.tenant, channel: channel, to: r.string(row, 1),
                        contentJSON: r.string(row, 2),
                        idempotencyKey: keys.key(id: id, given: r.stringOrNil(row, 3)),
                        dueAt: pick.entry.dueAt, attemptCount: Int(r.int64(row, 4)), createdAt: r.int64(row, 5),
                        priority: pick.lane.priority, timeZone: pick.lane.zone.isEmpty ? nil : pick.lane.zone,
                        campaign: pick.lane.campaign.isEmpty ? nil : pick.lane.campaign,
                        leadID: r.int64OrNil(row, 6), step: r.int64OrNil(row, 7).map { Int($0) }))
            }
            effects.move(channel, from: .scheduled, to: .inflight, count: Int64(claimed.count))
            return claimed
        }
    }

    public func release(_ messages: [ClaimedMessage], to state: MessageState) async throws {
        guard !messages.isEmpty else { return }
        precondition([.scheduled, .paused, .cancelled].contains(state), "release to \(state)")
        let node = self.node
        try await pool.write { db, effects in
            let r = try db.query(
                """
                UPDATE messages SET state = $1, claimed_by = NULL
                WHERE id = ANY($2::bigint[]) AND state = 1 AND claimed_by = $3 RETURNING id
                """, [Int64(state.rawValue), PostgresArray(messages.map(\.id)), node])
            var released = Set<Int64>()
            for row in 0..<r.count { released.insert(r.int64(row, 0)) }
            var rows: [QueuedRow] = []
            for m in messages where released.contains(m.id) {
                effects.move(m.channel, from: .inflight, to: state)
                let lane = QueueLane(
                    priority: m.priority, tenant: m.tenant, zone: m.timeZone ?? "", campaign: m.campaign ?? "")
                rows.append(QueuedRow(channel: m.channel, lane: lane, entry: QueueEntry(dueAt: m.dueAt, id: m.id)))
            }
            if state == .scheduled { try Self.addToQueue(rows, db: db, effects: &effects) }
        }
    }

    public func record(_ outcomes: [DeliveryOutcome]) async throws {
        guard !outcomes.isEmpty else { return }
        let node = self.node
        try await pool.write { db, effects in
            var states: [Int64] = []
            var sentAt: [Int64?] = []
            var providerIDs: [String?] = []
            var tries: [Int64] = []
            var errors: [String?] = []
            var dues: [Int64?] = []
            for o in outcomes {
                switch o.kind {
                case .sent(let providerID):
                    states.append(Int64(MessageState.sent.rawValue))
                    sentAt.append(o.at)
                    providerIDs.append(providerID)
                    tries.append(1)
                    errors.append(nil)
                    dues.append(nil)
                case .retry(let at), .deferred(let at):
                    states.append(Int64(MessageState.scheduled.rawValue))
                    sentAt.append(nil)
                    providerIDs.append(nil)
                    tries.append(o.kind == .deferred(at: at) ? 0 : 1)
                    errors.append(o.detail)
                    dues.append(at)
                case .failed, .dead, .cancelled:
                    let state: MessageState = o.kind == .failed ? .failed : o.kind == .dead ? .dead : .cancelled
                    states.append(Int64(state.rawValue))
                    sentAt.append(nil)
                    providerIDs.append(nil)
                    // A suppressed message never reached the plugin: not a try.
                    tries.append(o.kind == .cancelled ? 0 : 1)
                    errors.append(o.detail)
                    dues.append(nil)
                }
            }
            // Every update applies only to a message this node holds in flight, so recording twice
            // (or after another node took the message back) is harmless.
            let r = try db.query(
                """
                UPDATE messages m SET state = u.state, sent_at = coalesce(u.sent_at, m.sent_at),
                    provider_id = CASE WHEN u.state = 2 THEN u.provider_id ELSE m.provider_id END,
                    attempts = m.attempts + u.tries, last_error = u.error, due_at = coalesce(u.due_at, m.due_at),
                    claimed_by = NULL
                FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::int[], $6::text[], $7::bigint[])
                     AS u(id, state, sent_at, provider_id, tries, error, due_at)
                WHERE m.id = u.id AND m.state = 1 AND m.claimed_by = $8
                RETURNING m.id, m.priority, m.tenant, m.timezone, m.campaign
                """,
                [
                    PostgresArray(outcomes.map(\.id)), PostgresArray(states), PostgresArray(sentAt),
                    PostgresArray(providerIDs), PostgresArray(tries), PostgresArray(errors), PostgresArray(dues),
                    node,
                ])
            var lanes: [Int64: QueueLane] = [:]
            for row in 0..<r.count { lanes[r.int64(row, 0)] = Self.lane(r, row, from: 1) }
            var requeued: [QueuedRow] = []
            var history: [DeliveryOutcome] = []
            for (index, o) in outcomes.enumerated() {
                guard let lane = lanes.removeValue(forKey: o.id) else { continue }
                let state = MessageState(rawValue: Int(states[index])) ?? .scheduled
                if let due = dues[index] {
                    requeued.append(QueuedRow(channel: o.channel, lane: lane, entry: QueueEntry(dueAt: due, id: o.id)))
                }
                history.append(o)
                effects.move(o.channel, from: .inflight, to: state)
            }
            try Self.addToQueue(requeued, db: db, effects: &effects)
            try Self.appendHistory(
                db, ids: history.map(\.id), at: history.map(\.at), outcomes: history.map(\.word),
                details: history.map(\.detail), senders: history.map(\.sender))
        }
    }

    /// Appends one history entry to each message.
    static func appendHistory(
        _ db: PostgresConnection, ids: [Int64], at: [Int64], outcomes: [String], details: [String?],
        senders: [String?]
    ) throws {
        guard !ids.isEmpty else { return }
        try db.query(
            """
            INSERT INTO attempts(message_id, seq, at, outcome, detail, sender)
            SELECT h.id, coalesce((SELECT max(seq) FROM attempts a WHERE a.message_id = h.id), 0)
                         + row_number() OVER (PARTITION BY h.id ORDER BY h.n),
                   h.at, h.outcome, h.detail, h.sender
            FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
                 WITH ORDINALITY AS h(id, at, outcome, detail, sender, n)
            """,
            [
                PostgresArray(ids), PostgresArray(at), PostgresArray(outcomes.map { Optional($0) }),
                PostgresArray(details), PostgresArray(senders),
            ])
    }

    public func message(id: Int64) async throws -> StoredMessage? {
        let keys = self.keys
        return try await pool.read { db in try Self.message(db, id: id, keys: keys) }
    }

    static func message(_ db: PostgresConnection, id: Int64, keys: StoreIdentity) throws -> StoredMessage? {
        let s = try db.query(
            """
            SELECT tenant, channel, recipient, content, priority, idempotency_key, state, due_at, created_at,
                   sent_at, provider_id, attempts, last_error, timezone, campaign, step, lead_id
            FROM messages WHERE id = $1
            """, [id])
        guard s.count == 1 else { return nil }
        var message = StoredMessage(
            id: id, tenant: s.string(0, 0), channel: s.string(0, 1), to: s.string(0, 2), contentJSON: s.string(0, 3),
            priority: Priority(rawValue: Int(s.int64(0, 4))) ?? .normal,
            idempotencyKey: keys.key(id: id, given: s.stringOrNil(0, 5)),
            state: MessageState(rawValue: Int(s.int64(0, 6))) ?? .scheduled, dueAt: s.int64(0, 7),
            createdAt: s.int64(0, 8), sentAt: s.int64OrNil(0, 9), providerID: s.stringOrNil(0, 10),
            attemptCount: Int(s.int64(0, 11)), lastError: s.stringOrNil(0, 12), timeZone: s.stringOrNil(0, 13),
            campaign: s.stringOrNil(0, 14), step: s.int64OrNil(0, 15).map { Int($0) }, leadID: s.int64OrNil(0, 16),
            attempts: [])
        let h = try db.query(
            "SELECT at, outcome, detail, sender FROM attempts WHERE message_id = $1 ORDER BY seq", [id])
        for row in 0..<h.count {
            message.attempts.append(
                AttemptRecord(
                    at: h.int64(row, 0), outcome: h.string(row, 1), detail: h.stringOrNil(row, 2),
                    sender: h.stringOrNil(row, 3)))
        }
        return message
    }

    /// The WHERE clause and parameters selecting dead messages that match a filter (parameters from $1).
    private static func deadClause(_ filter: DeadLetterFilter) -> (String, [(any PostgresParameter)?]) {
        var clause = "state = 4"
        var parameters: [(any PostgresParameter)?] = []
        if let ids = filter.ids {
            parameters.append(PostgresArray(ids))
            clause += " AND id = ANY($\(parameters.count)::bigint[])"
        }
        let conditions: [(String, String?)] = [
            ("tenant = $", filter.tenant), ("channel = $", filter.channel), ("campaign = $", filter.campaign),
            ("strpos(last_error, $", filter.error),
        ]
        for case (let condition, let value?) in conditions {
            parameters.append(value)
            clause += " AND " + condition + "\(parameters.count)" + (condition.hasPrefix("strpos") ? ") > 0" : "")
        }
        return (clause, parameters)
    }

    public func deadLetters(_ filter: DeadLetterFilter, after: Int64, limit: Int) async throws -> [StoredMessage] {
        let (clause, parameters) = Self.deadClause(filter)
        let keys = self.keys
        return try await pool.read { db in
            let n = parameters.count
            let r = try db.queryOnce(
                "SELECT id FROM messages WHERE \(clause) AND id > $\(n + 1) ORDER BY id LIMIT $\(n + 2)",
                parameters + [after, limit])
            return try (0..<r.count).compactMap { try Self.message(db, id: r.int64($0, 0), keys: keys) }
        }
    }

    public func retryDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int {
        try await moveDeadLetters(filter, now: now, to: .scheduled)
    }

    public func purgeDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int {
        try await moveDeadLetters(filter, now: now, to: .cancelled)
    }

    private func moveDeadLetters(_ filter: DeadLetterFilter, now: Int64, to state: MessageState) async throws -> Int {
        let (clause, parameters) = Self.deadClause(filter)
        return try await pool.write { db, effects in
            let n = parameters.count
            let attempts = state == .scheduled ? "0" : "attempts"
            let r = try db.queryOnce(
                """
                UPDATE messages SET state = $\(n + 1), due_at = $\(n + 2), attempts = \(attempts)
                WHERE \(clause) RETURNING id, channel, priority, tenant, timezone, campaign
                """, parameters + [Int64(state.rawValue), now])
            var rows: [QueuedRow] = []
            for row in 0..<r.count {
                rows.append(
                    QueuedRow(
                        channel: r.string(row, 1), lane: Self.lane(r, row, from: 2),
                        entry: QueueEntry(dueAt: now, id: r.int64(row, 0))))
                effects.move(r.string(row, 1), from: .dead, to: state)
            }
            if state == .scheduled { try Self.addToQueue(rows, db: db, effects: &effects) }
            let word = state == .scheduled ? "dlq-retry" : "dlq-purge"
            try Self.appendHistory(
                db, ids: rows.map(\.entry.id), at: rows.map { _ in now }, outcomes: rows.map { _ in word },
                details: rows.map { _ in nil }, senders: rows.map { _ in nil })
            return rows.count
        }
    }

    public func stats() -> QueueStats { counts.stats() }

    public func recoverInflight() async throws -> Int {
        let node = self.node
        return try await pool.write { db, effects in
            try Self.takeBack(db, from: [node], detail: InflightRecovery.detail(nodes: []), effects: &effects)
        }
    }

    /// Puts the in-flight messages of `nodes` back in the queue at their due time, with `detail`
    /// in their history; returns how many.
    static func takeBack(
        _ db: PostgresConnection, from nodes: [String], detail: String, effects: inout CommitEffects
    ) throws -> Int {
        let r = try db.query(
            """
            UPDATE messages SET state = 0, claimed_by = NULL WHERE state = 1 AND claimed_by = ANY($1::text[])
            RETURNING id, channel, due_at, priority, tenant, timezone, campaign
            """, [PostgresArray(nodes.map { Optional($0) })])
        var rows: [QueuedRow] = []
        for row in 0..<r.count {
            rows.append(
                QueuedRow(
                    channel: r.string(row, 1), lane: Self.lane(r, row, from: 3),
                    entry: QueueEntry(dueAt: r.int64(row, 2), id: r.int64(row, 0))))
        }
        // Stops each was in flight at before, since it was last given another chance (dlq retry).
        let earlier = try db.query(
            """
            SELECT a.message_id, count(*) FROM attempts a WHERE a.message_id = ANY($1::bigint[]) AND a.outcome = $2
            AND a.seq > coalesce((SELECT max(b.seq) FROM attempts b WHERE b.message_id = a.message_id
                AND b.outcome = 'dlq-retry'), 0)
            GROUP BY a.message_id
            """, [PostgresArray(rows.map { Optional($0.entry.id) }), InflightRecovery.word])
        var stops: [Int64: Int64] = [:]
        for row in 0..<earlier.count { stops[earlier.int64(row, 0)] = earlier.int64(row, 1) }
        // The hand-off that was cut short shows in the history, so a copy can be explained.
        let now = WallClock().nowMilliseconds()
        try Self.appendHistory(
            db, ids: rows.map(\.entry.id), at: rows.map { _ in now }, outcomes: rows.map { _ in InflightRecovery.word },
            details: rows.map { _ in detail }, senders: rows.map { _ in nil })
        // In flight at every one of these stops: it may be what crashes leadd. Set aside.
        let poison = rows.filter { (stops[$0.entry.id] ?? 0) + 1 >= InflightRecovery.poisonLimit }
        let requeued = rows.filter { (stops[$0.entry.id] ?? 0) + 1 < InflightRecovery.poisonLimit }
        for row in requeued { effects.move(row.channel, from: .inflight, to: .scheduled) }
        try Self.addToQueue(requeued, db: db, effects: &effects)
        if !poison.isEmpty {
            let reasons = poison.map { InflightRecovery.poison(stops: (stops[$0.entry.id] ?? 0) + 1) }
            for (row, reason) in zip(poison, reasons) {
                _ = try db.query(
                    "UPDATE messages SET state = 4, last_error = $1 WHERE id = $2", [reason, row.entry.id])
                effects.move(row.channel, from: .inflight, to: .dead)
            }
            try Self.appendHistory(
                db, ids: poison.map(\.entry.id), at: poison.map { _ in now }, outcomes: poison.map { _ in "dead" },
                details: reasons, senders: poison.map { _ in nil })
        }
        return requeued.count
    }

    public var rateShare: Double { membership.share }

    public var cluster: ClusterStatus? { membership.status() }

    /// Stops this node: its tenants go to the other nodes at once (it leaves the cluster).
    public func close() async {
        pool.stop()
        link.withLock { $0 }?.stop()
    }
}
