// Campaigns and their leads in the PostgreSQL store, as in the embedded one: pausing takes the
// campaign's queued messages out of the queue (state paused), resuming puts them back at their own
// due times, cancelling ends every message not yet sent. A state change locks the campaign row and
// a lead import shares that lock, so neither runs against a state the other is changing. Queue
// rows a claim holds are left to it: the claim finds its message no longer queued and takes nothing.

extension PostgresQueueStore {
    public func createCampaign(_ campaign: Campaign, now: Int64) async throws -> Campaign {
        try await pool.write { db, _ in
            let r = try db.query(
                """
                INSERT INTO campaigns(id, tenant, name, spec, state, created_at) VALUES ($1, $2, $3, $4, 'active', $5)
                ON CONFLICT DO NOTHING
                """, [campaign.id, campaign.tenant, campaign.name, campaign.specJSON, now])
            guard r.affected == 1 else { throw CampaignStoreError.exists(campaign.id) }
            var stored = campaign
            stored.state = .active
            stored.createdAt = now
            return stored
        }
    }

    private static func campaign(_ r: PostgresResult, _ row: Int) throws(StoredValueError) -> Campaign {
        try Campaign(
            id: r.string(row, 0), tenant: r.string(row, 1), name: r.string(row, 2), stateText: r.string(row, 4),
            createdAt: r.int64(row, 5), specJSON: r.string(row, 3))
    }

    public func campaign(id: String) async throws -> Campaign? {
        try await pool.read { db in
            let r = try db.query("SELECT id, tenant, name, spec, state, created_at FROM campaigns WHERE id = $1", [id])
            return r.count == 1 ? try Self.campaign(r, 0) : nil
        }
    }

    public func campaigns(tenant: String?, after: String, limit: Int) async throws -> [Campaign] {
        try await pool.read { db in
            // Byte order, as the embedded store sorts text, whatever the database's collation.
            let r = try db.query(
                """
                SELECT id, tenant, name, spec, state, created_at FROM campaigns
                WHERE ($1::text IS NULL OR tenant = $1) AND id COLLATE "C" > $2 ORDER BY id COLLATE "C" LIMIT $3
                """, [tenant, after, limit])
            return try (0..<r.count).map { row throws(StoredValueError) in try Self.campaign(r, row) }
        }
    }

    /// Message counts of one campaign by state.
    public func campaignCounts(id: String) async throws -> [MessageState: Int64] {
        try await pool.read { db in
            let r = try db.query("SELECT state, count(*) FROM messages WHERE campaign = $1 GROUP BY state", [id])
            var counts: [MessageState: Int64] = [:]
            for row in 0..<r.count {
                if let state = MessageState(rawValue: Int(r.int64(row, 0))) { counts[state] = r.int64(row, 1) }
            }
            return counts
        }
    }

    /// Moves a campaign to `state`: paused takes its queued messages out of the queue, active puts
    /// paused ones back, cancelled ends every unsent one. Returns how many messages moved.
    public func setCampaignState(id: String, to state: CampaignState, now: Int64) async throws -> Int {
        try await pool.write { db, effects in
            let from = try Self.state(ofCampaign: id, db, exclusive: true)
            if from == state { return 0 }
            if from == .cancelled { throw CampaignStoreError.notActive(id, from) }
            try db.query("UPDATE campaigns SET state = $1 WHERE id = $2", [state.rawValue, id])
            switch state {
            case .paused: return try Self.move(campaign: id, from: [.scheduled], to: .paused, db, &effects)
            case .cancelled:
                return try Self.move(campaign: id, from: [.scheduled, .paused], to: .cancelled, db, &effects)
            case .active: return try Self.resume(campaign: id, db, &effects)
            }
        }
    }

    /// The campaign's state, its row locked until the transaction ends: for update (a state
    /// change) or shared (a lead import).
    private static func state(ofCampaign id: String, _ db: PostgresConnection, exclusive: Bool) throws
        -> CampaignState
    {
        let r = try db.query(
            exclusive
                ? "SELECT state FROM campaigns WHERE id = $1 FOR UPDATE"
                : "SELECT state FROM campaigns WHERE id = $1 FOR SHARE", [id])
        guard r.count == 1 else { throw CampaignStoreError.notFound(id) }
        return CampaignState(rawValue: r.string(0, 0)) ?? .active
    }

    /// Takes the campaign's messages in `states` out of the queue into `target`.
    private static func move(
        campaign: String, from states: [MessageState], to target: MessageState, _ db: PostgresConnection,
        _ effects: inout CommitEffects
    ) throws -> Int {
        // The messages are locked first; their queue rows are then taken without waiting (a row a
        // claim holds is the claim's, and the claim finds the message moved), so this never waits
        // on a claim that waits on it.
        let r = try db.query(
            """
            WITH found AS (
                SELECT id, state FROM messages WHERE campaign = $1 AND state = ANY($2::int[])
                ORDER BY id FOR UPDATE),
            moved AS (
                UPDATE messages m SET state = $3 FROM found WHERE m.id = found.id
                RETURNING m.id, m.channel, found.state AS was),
            dequeued AS (
                DELETE FROM queue WHERE id IN (
                    SELECT q.id FROM queue q JOIN moved ON q.id = moved.id WHERE moved.was = 0
                    FOR UPDATE OF q SKIP LOCKED))
            SELECT channel, was, count(*) FROM moved GROUP BY channel, was
            """, [campaign, PostgresArray(states.map { Int64($0.rawValue) }), Int64(target.rawValue)])
        var moved = 0
        for row in 0..<r.count {
            let n = r.int64(row, 2)
            effects.move(
                r.string(row, 0), from: MessageState(rawValue: Int(r.int64(row, 1))) ?? .scheduled, to: target,
                count: n)
            moved += Int(n)
        }
        return moved
    }

    private static func resume(campaign: String, _ db: PostgresConnection, _ effects: inout CommitEffects) throws
        -> Int
    {
        // Locked in id order, as `move` and opt-outs lock theirs.
        let r = try db.query(
            """
            UPDATE messages m SET state = 0, claimed_by = NULL
            FROM (SELECT id FROM messages WHERE campaign = $1 AND state = 6 ORDER BY id FOR UPDATE) p
            WHERE m.id = p.id
            RETURNING m.id, m.channel, m.due_at, m.priority, m.tenant, m.timezone, m.campaign
            """, [campaign])
        var rows: [QueuedRow] = []
        rows.reserveCapacity(r.count)
        for row in 0..<r.count {
            rows.append(
                QueuedRow(
                    channel: r.string(row, 1), lane: lane(r, row, from: 3),
                    entry: QueueEntry(dueAt: r.int64(row, 2), id: r.int64(row, 0))))
            effects.move(r.string(row, 1), from: .paused, to: .scheduled)
        }
        try addToQueue(rows, db: db, effects: &effects)
        return rows.count
    }

    public func messageID(tenant: String, idempotencyKey: String) async throws -> Int64? {
        try await pool.read { db in
            let r = try db.query(
                "SELECT id FROM messages WHERE tenant = $1 AND idempotency_key = $2", [tenant, idempotencyKey])
            return r.count == 1 ? r.int64(0, 0) : nil
        }
    }

    public func lead(campaign: String, key: String) async throws -> StoredLead? {
        try await pool.read { db in
            let r = try db.query(
                """
                SELECT id, phone, email, name, vars, timezone, created_at FROM leads
                WHERE campaign = $1 AND lead_key = $2
                """, [campaign, key])
            guard r.count == 1 else { return nil }
            return StoredLead(
                id: r.int64(0, 0),
                lead: Lead(
                    key: key, phone: r.stringOrNil(0, 1), email: r.stringOrNil(0, 2), name: r.stringOrNil(0, 3),
                    varsJSON: r.stringOrNil(0, 4), timeZone: r.stringOrNil(0, 5)), createdAt: r.int64(0, 6))
        }
    }

    public func lead(id: Int64) async throws -> StoredLead? {
        try await pool.read { db in
            let r = try db.query(
                "SELECT lead_key, phone, email, name, vars, timezone, created_at FROM leads WHERE id = $1", [id])
            guard r.count == 1 else { return nil }
            return StoredLead(
                id: id,
                lead: Lead(
                    key: r.string(0, 0), phone: r.stringOrNil(0, 1), email: r.stringOrNil(0, 2),
                    name: r.stringOrNil(0, 3), varsJSON: r.stringOrNil(0, 4), timeZone: r.stringOrNil(0, 5)),
                createdAt: r.int64(0, 6))
        }
    }

    /// Stores leads of an active campaign with their messages; a lead already in the campaign
    /// (same key) adds nothing.
    public func importLeads(campaign: String, _ leads: [PreparedLead], now: Int64) async throws -> [LeadImportResult] {
        try await pool.write { db, effects in
            let current = try Self.state(ofCampaign: campaign, db, exclusive: false)
            guard current != .cancelled else { throw CampaignStoreError.notActive(campaign, current) }
            guard !leads.isEmpty else { return [] }
            // Ids drawn first, so that each lead knows whether its own row went in (a key twice in
            // one import goes in once, for its first lead).
            let ids = try db.query(
                "SELECT nextval(pg_get_serial_sequence('leads', 'id')) FROM generate_series(1, $1)", [leads.count])
            let proposed = (0..<leads.count).map { ids.int64($0, 0) }
            let inserted = try db.query(
                """
                INSERT INTO leads(id, campaign, lead_key, phone, email, name, vars, timezone, created_at)
                SELECT id, $1, lead_key, phone, email, name, vars, timezone, $2
                FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                     WITH ORDINALITY AS r(id, lead_key, phone, email, name, vars, timezone, n)
                ORDER BY n
                ON CONFLICT DO NOTHING RETURNING id
                """,
                [
                    campaign, now, PostgresArray(proposed), PostgresArray(leads.map { Optional($0.key) }),
                    PostgresArray(leads.map(\.phone)), PostgresArray(leads.map(\.email)),
                    PostgresArray(leads.map(\.name)), PostgresArray(leads.map(\.varsJSON)),
                    PostgresArray(leads.map(\.timeZone)),
                ])
            var stored = Set<Int64>()
            for row in 0..<inserted.count { stored.insert(inserted.int64(row, 0)) }
            var existing: [String: Int64] = [:]
            let repeated = zip(leads, proposed).filter { !stored.contains($0.1) }.map { Optional($0.0.key) }
            if !repeated.isEmpty {
                let r = try db.query(
                    "SELECT lead_key, id FROM leads WHERE campaign = $1 AND lead_key = ANY($2::text[])",
                    [campaign, PostgresArray(repeated)])
                for row in 0..<r.count { existing[r.string(row, 0)] = r.int64(row, 1) }
            }
            // Every new lead's messages in one batch, in import order.
            var messages: [NewMessage] = []
            for (lead, leadID) in zip(leads, proposed) where stored.contains(leadID) {
                for var message in lead.messages {
                    message.leadID = leadID
                    messages.append(message)
                }
            }
            let enqueued = messages.isEmpty ? [] : try Self.insert(messages, now: now, db: db, effects: &effects)
            var results: [LeadImportResult] = []
            results.reserveCapacity(leads.count)
            var next = 0
            for (lead, leadID) in zip(leads, proposed) {
                guard stored.contains(leadID) else {
                    results.append(.duplicate(leadID: existing[lead.key] ?? 0))
                    continue
                }
                let added = enqueued[next..<next + lead.messages.count].filter { !$0.duplicate }.count
                next += lead.messages.count
                results.append(.accepted(leadID: leadID, messages: added))
            }
            // Leads imported into a paused campaign wait with it.
            if current == .paused, effects.queued.contains(where: { $0.lane.campaign == campaign }) {
                _ = try Self.move(campaign: campaign, from: [.scheduled], to: .paused, db, &effects)
                effects.queued.removeAll { $0.lane.campaign == campaign }
            }
            return results
        }
    }
}
