// Receipts and opt-outs: what providers and leads report after a send.
extension SQLiteQueueStore {
    /// Records a provider's receipt in the message's history and moves it forward (never back:
    /// "delivered" arriving after "read" changes nothing). nil when no message matches.
    public func applyReceipt(_ receipt: Receipt) async throws -> ReceiptApplied? {
        try await writer.submit { [claims] db, effects in
            let find: SQLiteStatement
            switch receipt.target {
            case .message(let id):
                find = try db.statement(
                    "SELECT id, tenant, channel, recipient, campaign, state FROM messages WHERE id = ?")
                find.bind(1, id)
            case .provider(let channel, let providerID):
                find = try db.statement(
                    """
                    SELECT id, tenant, channel, recipient, campaign, state FROM messages
                    WHERE provider_id = ? AND channel = ? ORDER BY id DESC LIMIT 1
                    """)
                find.bind(1, providerID)
                find.bind(2, channel)
            }
            defer { find.reset() }
            guard try find.step(), var state = MessageState(rawValue: Int(find.int64(5))) else { return nil }
            if state == .scheduled, claims.contains(find.int64(0)) { state = .inflight }
            var applied = ReceiptApplied(
                id: find.int64(0), tenant: find.string(1), channel: find.string(2), to: find.string(3),
                campaign: find.stringOrNil(4), state: state)
            find.reset()
            try Self.appendHistory(db, id: applied.id, at: receipt.at, outcome: receipt.status.rawValue, receipt.detail)
            let target = receipt.status.state
            guard let from = Receipt.rank(state), let to = Receipt.rank(target), to > from else { return applied }
            let update = try db.statement("UPDATE messages SET state = ? WHERE id = ? AND state = ?")
            update.bind(1, Int64(target.rawValue))
            update.bind(2, applied.id)
            update.bind(3, Int64(state.rawValue))
            try update.run()
            effects.move(applied.channel, from: state, to: target)
            applied.state = target
            return applied
        }
    }

    /// The tenant that last sent to `address` on `channel`: who an inbound message answers.
    public func lastSender(to address: String, channel: String) async throws -> String? {
        try await reader.submit { db, _ in
            let s = try db.statement(
                "SELECT tenant FROM messages WHERE recipient = ? AND channel = ? ORDER BY id DESC LIMIT 1")
            s.bind(1, address)
            s.bind(2, channel)
            defer { s.reset() }
            return try s.step() ? s.string(0) : nil
        }
    }

    /// Suppresses `address` for `tenant` and cancels every message to it not yet sent (waiting,
    /// or held with a paused campaign), in one transaction.
    public func optOut(tenant: String, address: String, reason: String, now: Int64) async throws -> Int {
        try await writer.submit { [claims, lanes] db, effects in
            let suppress = try db.statement(
                "INSERT INTO suppressions(tenant, address, reason, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
            )
            suppress.bind(1, tenant)
            suppress.bind(2, address)
            suppress.bind(3, reason)
            suppress.bind(4, now)
            try suppress.run()
            let select = try db.statement(
                """
                SELECT id, channel, state, due_at, priority, tenant, timezone, campaign FROM messages
                WHERE recipient = ? AND tenant = ? AND state IN (0, 6)
                """)
            select.bind(1, address)
            select.bind(2, tenant)
            var rows: [(id: Int64, channel: String, state: MessageState, dueAt: Int64, lane: QueueLane)] = []
            while try select.step() {
                // One in flight is already with its plugin (its row still says waiting).
                if claims.contains(select.int64(0)) { continue }
                rows.append(
                    (
                        select.int64(0), select.string(1), MessageState(rawValue: Int(select.int64(2))) ?? .scheduled,
                        select.int64(3), Self.lane(select, from: 4)
                    ))
            }
            select.reset()
            let cancel = try db.statement("UPDATE messages SET state = 5, last_error = ? WHERE id = ? AND state = ?")
            let queue = try QueueTable(db, lanes)
            for row in rows {
                cancel.reset()
                cancel.bind(1, reason)
                cancel.bind(2, row.id)
                cancel.bind(3, Int64(row.state.rawValue))
                try cancel.run()
                if row.state == .scheduled {
                    _ = try queue.remove(
                        QueuedRow(channel: row.channel, lane: row.lane, entry: QueueEntry(dueAt: row.dueAt, id: row.id))
                    )
                }
                try Self.appendHistory(db, id: row.id, at: now, outcome: "opted-out", reason)
                effects.move(row.channel, from: row.state, to: .cancelled)
            }
            return rows.count
        }
    }

    static func appendHistory(_ db: SQLiteConnection, id: Int64, at: Int64, outcome: String, _ detail: String?) throws {
        let history = try db.statement(
            """
            INSERT INTO attempts(message_id, seq, at, outcome, detail)
            VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM attempts WHERE message_id = ?1), ?2, ?3, ?4)
            """)
        history.reset()
        history.bind(1, id)
        history.bind(2, at)
        history.bind(3, outcome)
        history.bind(4, detail)
        try history.run()
    }
}
