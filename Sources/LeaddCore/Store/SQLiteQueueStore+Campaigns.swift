// Campaigns and their leads in the embedded store. Pausing takes the campaign's queued messages
// out of the queue (state paused); resuming puts them back at their own due times, so nothing is
// sent twice and nothing is skipped; cancelling ends every message not yet sent.

public enum LeadImportResult: Sendable, Equatable {
    /// Stored, with this many new messages.
    case accepted(leadID: Int64, messages: Int)
    /// The campaign already had this lead; nothing was added.
    case duplicate(leadID: Int64)
}

public enum CampaignStoreError: Error, Equatable, CustomStringConvertible {
    case exists(String)
    case notFound(String)
    case notActive(String, CampaignState)

    public var description: String {
        switch self {
        case .exists(let id): "campaign '\(id)' exists already"
        case .notFound(let id): "no campaign '\(id)'"
        case .notActive(let id, let state): "campaign '\(id)' is \(state.rawValue)"
        }
    }
}

extension SQLiteQueueStore {
    public func createCampaign(_ campaign: Campaign, now: Int64) async throws -> Campaign {
        try await writer.submit { db, _ in
            let s = try db.statement(
                """
                INSERT INTO campaigns(id, tenant, name, spec, state, created_at) VALUES (?, ?, ?, ?, 'active', ?)
                ON CONFLICT DO NOTHING
                """)
            s.bind(1, campaign.id)
            s.bind(2, campaign.tenant)
            s.bind(3, campaign.name)
            s.bind(4, campaign.specJSON)
            s.bind(5, now)
            try s.run()
            guard db.changes == 1 else { throw CampaignStoreError.exists(campaign.id) }
            var stored = campaign
            stored.state = .active
            stored.createdAt = now
            return stored
        }
    }

    private static func campaign(_ s: SQLiteStatement) throws(StoredValueError) -> Campaign {
        try Campaign(
            id: s.string(0), tenant: s.string(1), name: s.string(2), stateText: s.string(4), createdAt: s.int64(5),
            specJSON: s.string(3))
    }

    public func campaign(id: String) async throws -> Campaign? {
        try await reader.submit { db, _ in
            let s = try db.statement("SELECT id, tenant, name, spec, state, created_at FROM campaigns WHERE id = ?")
            s.bind(1, id)
            defer { s.reset() }
            return try s.step() ? try Self.campaign(s) : nil
        }
    }

    public func campaigns(tenant: String?, after: String, limit: Int) async throws -> [Campaign] {
        try await reader.submit { db, _ in
            let s = try db.statement(
                """
                SELECT id, tenant, name, spec, state, created_at FROM campaigns
                WHERE (?1 IS NULL OR tenant = ?1) AND id > ?2 ORDER BY id LIMIT ?3
                """)
            s.bind(1, tenant)
            s.bind(2, after)
            s.bind(3, Int64(limit))
            defer { s.reset() }
            var campaigns: [Campaign] = []
            while try s.step() { campaigns.append(try Self.campaign(s)) }
            return campaigns
        }
    }

    /// Message counts of one campaign by state.
    public func campaignCounts(id: String) async throws -> [MessageState: Int64] {
        try await reader.submit { [claims] db, _ in
            let s = try db.statement("SELECT state, count(*) FROM messages WHERE campaign = ? GROUP BY state")
            s.bind(1, id)
            defer { s.reset() }
            var counts: [MessageState: Int64] = [:]
            while try s.step() { if let state = MessageState(rawValue: Int(s.int64(0))) { counts[state] = s.int64(1) } }
            // In flight is known in memory; those rows still say waiting.
            let flying = Int64(min(claims.inFlight(campaign: id).count, Int(counts[.scheduled] ?? 0)))
            if flying > 0 {
                counts[.scheduled, default: 0] -= flying
                counts[.inflight, default: 0] += flying
                if counts[.scheduled] == 0 { counts[.scheduled] = nil }
            }
            return counts
        }
    }

    /// Moves a campaign to `state`: paused takes its queued messages out of the queue, active puts
    /// paused ones back, cancelled ends every unsent one. Returns how many messages moved.
    public func setCampaignState(id: String, to state: CampaignState, now: Int64) async throws -> Int {
        try await writer.submit { [claims, lanes] db, effects in
            let from = try Self.state(ofCampaign: id, db)
            if from == state { return 0 }
            if from == .cancelled { throw CampaignStoreError.notActive(id, from) }
            let queue = try QueueTable(db, lanes)
            let update = try db.statement("UPDATE campaigns SET state = ? WHERE id = ?")
            update.bind(1, state.rawValue)
            update.bind(2, id)
            try update.run()
            switch state {
            case .paused:
                return try Self.move(campaign: id, from: [.scheduled], to: .paused, db, queue, claims, &effects)
            case .cancelled:
                return try Self.move(
                    campaign: id, from: [.scheduled, .paused], to: .cancelled, db, queue, claims, &effects)
            case .active: return try Self.resume(campaign: id, db, queue, &effects)
            }
        }
    }

    private static func state(ofCampaign id: String, _ db: SQLiteConnection) throws -> CampaignState {
        let s = try db.statement("SELECT state FROM campaigns WHERE id = ?")
        s.bind(1, id)
        defer { s.reset() }
        guard try s.step() else { throw CampaignStoreError.notFound(id) }
        return CampaignState(rawValue: s.string(0)) ?? .active
    }

    /// Takes the campaign's messages in `states` out of the queue into `target`. Messages in flight
    /// (state 0 in their rows) are left to their outcome.
    private static func move(
        campaign: String, from states: [MessageState], to target: MessageState, _ db: SQLiteConnection,
        _ queue: QueueTable, _ claims: InflightClaims, _ effects: inout CommitEffects
    ) throws -> Int {
        let list = states.map { String($0.rawValue) }.joined(separator: ",")
        // The lanes the campaign's queued messages wait in, so their queue rows go by lane.
        let lanes = try db.statement(
            """
            SELECT DISTINCT channel, priority, tenant, timezone, campaign FROM messages
            WHERE campaign = ? AND state = 0
            """)
        lanes.bind(1, campaign)
        var prefixes: [(String, QueueLane)] = []
        while try lanes.step() { prefixes.append((lanes.string(0), lane(lanes, from: 1))) }
        lanes.reset()
        for (channel, lane) in prefixes { try queue.removeLane(channel, lane) }
        let counts = try db.statement(
            "SELECT channel, state, count(*) FROM messages WHERE campaign = ? AND state IN (\(list)) GROUP BY channel, state"
        )
        counts.bind(1, campaign)
        var moved = 0
        while try counts.step() {
            let n = counts.int64(2)
            effects.move(
                counts.string(0), from: MessageState(rawValue: Int(counts.int64(1))) ?? .scheduled, to: target, count: n
            )
            moved += Int(n)
        }
        counts.reset()
        let update = try db.statement(
            "UPDATE messages SET state = ? WHERE campaign = ? AND state IN (\(list))", cached: false)
        update.bind(1, Int64(target.rawValue))
        update.bind(2, campaign)
        try update.run()
        // One set-based update, then the few in flight put back.
        let restore = try db.statement("UPDATE messages SET state = 0 WHERE id = ? AND state = ?")
        for (id, entry) in claims.inFlight(campaign: campaign) {
            restore.reset()
            restore.bind(1, id)
            restore.bind(2, Int64(target.rawValue))
            try restore.run()
            guard db.changes == 1 else { continue }
            effects.move(entry.channel, from: target, to: .scheduled)
            moved -= 1
        }
        return moved
    }

    private static func resume(
        campaign: String, _ db: SQLiteConnection, _ queue: QueueTable, _ effects: inout CommitEffects
    ) throws -> Int {
        let paused = try db.statement(
            "SELECT id, channel, due_at, priority, tenant, timezone, campaign FROM messages WHERE campaign = ? AND state = 6"
        )
        paused.bind(1, campaign)
        var rows: [QueuedRow] = []
        while try paused.step() {
            rows.append(
                QueuedRow(
                    channel: paused.string(1), lane: lane(paused, from: 3),
                    entry: QueueEntry(dueAt: paused.int64(2), id: paused.int64(0))))
        }
        paused.reset()
        let mark = try db.statement("UPDATE messages SET state = 0 WHERE id = ?")
        for row in rows {
            mark.reset()
            mark.bind(1, row.entry.id)
            try mark.run()
            try queue.add(row, &effects)
            effects.move(row.channel, from: .paused, to: .scheduled)
        }
        return rows.count
    }

    public func messageID(tenant: String, idempotencyKey: String) async throws -> Int64? {
        try await reader.submit { db, _ in
            let s = try db.statement("SELECT id FROM messages WHERE tenant = ? AND idempotency_key = ?")
            s.bind(1, tenant)
            s.bind(2, idempotencyKey)
            defer { s.reset() }
            return try s.step() ? s.int64(0) : nil
        }
    }

    public func lead(campaign: String, key: String) async throws -> StoredLead? {
        try await reader.submit { db, _ in
            let s = try db.statement(
                "SELECT id, phone, email, name, vars, timezone, created_at FROM leads WHERE campaign = ? AND lead_key = ?"
            )
            s.bind(1, campaign)
            s.bind(2, key)
            defer { s.reset() }
            guard try s.step() else { return nil }
            return StoredLead(
                id: s.int64(0),
                lead: Lead(
                    key: key, phone: s.stringOrNil(1), email: s.stringOrNil(2), name: s.stringOrNil(3),
                    varsJSON: s.stringOrNil(4), timeZone: s.stringOrNil(5)), createdAt: s.int64(6))
        }
    }

    public func lead(id: Int64) async throws -> StoredLead? {
        try await reader.submit { db, _ in
            let s = try db.statement(
                "SELECT lead_key, phone, email, name, vars, timezone, created_at FROM leads WHERE id = ?")
            s.bind(1, id)
            defer { s.reset() }
            guard try s.step() else { return nil }
            return StoredLead(
                id: id,
                lead: Lead(
                    key: s.string(0), phone: s.stringOrNil(1), email: s.stringOrNil(2), name: s.stringOrNil(3),
                    varsJSON: s.stringOrNil(4), timeZone: s.stringOrNil(5)), createdAt: s.int64(6))
        }
    }

    /// Stores leads of an active campaign with their messages; a lead already in the campaign
    /// (same key) adds nothing.
    public func importLeads(campaign: String, _ leads: [PreparedLead], now: Int64) async throws -> [LeadImportResult] {
        try await writer.submit { [claims, lanes] db, effects in
            let current = try Self.state(ofCampaign: campaign, db)
            guard current != .cancelled else { throw CampaignStoreError.notActive(campaign, current) }
            let insertLead = try db.statement(
                """
                INSERT INTO leads(campaign, lead_key, phone, email, name, vars, timezone, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            let existing = try db.statement("SELECT id FROM leads WHERE campaign = ? AND lead_key = ?")
            let statements = try MessageInsert(db, lanes)
            var results: [LeadImportResult] = []
            results.reserveCapacity(leads.count)
            var pausedRows: [QueuedRow] = []
            for lead in leads {
                insertLead.reset()
                insertLead.bind(1, campaign)
                insertLead.bind(2, lead.key)
                insertLead.bind(3, lead.phone)
                insertLead.bind(4, lead.email)
                insertLead.bind(5, lead.name)
                insertLead.bind(6, lead.varsJSON)
                insertLead.bind(7, lead.timeZone)
                insertLead.bind(8, now)
                try insertLead.run()
                guard db.changes == 1 else {
                    existing.reset()
                    existing.bind(1, campaign)
                    existing.bind(2, lead.key)
                    defer { existing.reset() }
                    results.append(.duplicate(leadID: try existing.step() ? existing.int64(0) : 0))
                    continue
                }
                let leadID = db.lastInsertRowID
                var added = 0
                for var message in lead.messages {
                    message.leadID = leadID
                    let result = try statements.insert(message, now: now, db: db, effects: &effects)
                    if !result.duplicate { added += 1 }
                }
                results.append(.accepted(leadID: leadID, messages: added))
            }
            // Leads imported into a paused campaign wait with it.
            if current == .paused {
                pausedRows = effects.queued.filter { $0.lane.campaign == campaign }
                if !pausedRows.isEmpty {
                    _ = try Self.move(
                        campaign: campaign, from: [.scheduled], to: .paused, db, statements.queue, claims, &effects)
                    effects.queued.removeAll { $0.lane.campaign == campaign }
                }
            }
            return results
        }
    }
}
