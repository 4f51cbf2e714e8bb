// Receipts and opt-outs in the PostgreSQL store: what providers and leads report after a send.
// Each locks the messages it reads before it moves them, so a receipt or an opt-out racing with a
// send on another connection or node sees the state that send left.
extension PostgresQueueStore {
    /// Records a provider's receipt in the message's history and moves it forward (never back:
    /// "delivered" arriving after "read" changes nothing). nil when no message matches.
    public func applyReceipt(_ receipt: Receipt) async throws -> ReceiptApplied? {
        try await pool.write { db, effects in
            let r: PostgresResult
            switch receipt.target {
            case .message(let id):
                r = try db.query(
                    "SELECT id, tenant, channel, recipient, campaign, state FROM messages WHERE id = $1 FOR UPDATE",
                    [id])
            case .provider(let channel, let providerID):
                r = try db.query(
                    """
                    SELECT id, tenant, channel, recipient, campaign, state FROM messages
                    WHERE provider_id = $1 AND channel = $2 ORDER BY id DESC LIMIT 1 FOR UPDATE
                    """, [providerID, channel])
            }
            guard r.count == 1, let state = MessageState(rawValue: Int(r.int64(0, 5))) else { return nil }
            var applied = ReceiptApplied(
                id: r.int64(0, 0), tenant: r.string(0, 1), channel: r.string(0, 2), to: r.string(0, 3),
                campaign: r.stringOrNil(0, 4), state: state)
            try Self.appendHistory(
                db, ids: [applied.id], at: [receipt.at], outcomes: [receipt.status.rawValue], details: [receipt.detail],
                senders: [nil])
            let target = receipt.status.state
            guard let from = Receipt.rank(state), let to = Receipt.rank(target), to > from else { return applied }
            try db.query(
                "UPDATE messages SET state = $1 WHERE id = $2 AND state = $3",
                [Int64(target.rawValue), applied.id, Int64(state.rawValue)])
            effects.move(applied.channel, from: state, to: target)
            applied.state = target
            return applied
        }
    }

    /// The tenant that last sent to `address` on `channel`: who an inbound message answers.
    public func lastSender(to address: String, channel: String) async throws -> String? {
        try await pool.read { db in
            let r = try db.query(
                "SELECT tenant FROM messages WHERE recipient = $1 AND channel = $2 ORDER BY id DESC LIMIT 1",
                [address, channel])
            return r.count == 1 ? r.string(0, 0) : nil
        }
    }

    /// Suppresses `address` for `tenant` and cancels every message to it not yet sent (waiting,
    /// or held with a paused campaign), in one transaction.
    public func optOut(tenant: String, address: String, reason: String, now: Int64) async throws -> Int {
        try await pool.write { db, effects in
            _ = try Self.insertSuppression(db, tenant, address, reason, now)
            // As when a campaign pauses: the messages are locked first and their queue rows taken
            // without waiting; a row a claim holds is the claim's, which then finds nothing to send.
            let r = try db.query(
                """
                WITH found AS (
                    SELECT id, state FROM messages WHERE recipient = $1 AND tenant = $2 AND state IN (0, 6)
                    ORDER BY id FOR UPDATE),
                cancelled AS (
                    UPDATE messages m SET state = 5, last_error = $3 FROM found WHERE m.id = found.id
                    RETURNING m.id, m.channel, found.state AS was),
                dequeued AS (
                    DELETE FROM queue WHERE id IN (
                        SELECT q.id FROM queue q JOIN cancelled ON q.id = cancelled.id WHERE cancelled.was = 0
                        FOR UPDATE OF q SKIP LOCKED))
                SELECT id, channel, was FROM cancelled ORDER BY id
                """, [address, tenant, reason])
            var ids: [Int64] = []
            ids.reserveCapacity(r.count)
            for row in 0..<r.count {
                ids.append(r.int64(row, 0))
                effects.move(
                    r.string(row, 1), from: MessageState(rawValue: Int(r.int64(row, 2))) ?? .scheduled, to: .cancelled)
            }
            try Self.appendHistory(
                db, ids: ids, at: ids.map { _ in now }, outcomes: ids.map { _ in "opted-out" },
                details: ids.map { _ in reason }, senders: ids.map { _ in nil })
            return ids.count
        }
    }
}
