// Senders in the PostgreSQL store, listed in byte order of their ids as in the embedded store.

extension PostgresQueueStore {
    public func putSender(_ sender: Sender, now: Int64) async throws -> Sender {
        try await pool.write { db, _ in
            let r = try db.query(
                """
                INSERT INTO senders(id, channel, settings, rate, burst, concurrency, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                ON CONFLICT (id) DO UPDATE SET channel = $2, settings = $3, rate = $4, burst = $5, concurrency = $6,
                    updated_at = $7
                RETURNING created_at
                """,
                [
                    sender.id, sender.channel, sender.settingsJSON, sender.rate?.description,
                    sender.burst.map(Int64.init), Int64(sender.concurrency), now,
                ])
            var stored = sender
            stored.origin = .stored
            stored.createdAt = r.count == 1 ? r.int64(0, 0) : now
            stored.updatedAt = now
            return stored
        }
    }

    public func senders(after: String, limit: Int) async throws -> [Sender] {
        try await pool.read { db in
            let r = try db.query(
                """
                SELECT id, channel, settings, rate, burst, concurrency, created_at, updated_at
                FROM senders WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2
                """, [after, limit])
            return try (0..<r.count).map { row throws(StoredValueError) in
                var sender = Sender(id: r.string(row, 0), channel: r.string(row, 1))
                sender.settingsJSON = r.string(row, 2)
                sender.rate = try StoredValueError.rate(r.stringOrNil(row, 3), table: "senders", row: sender.id)
                sender.burst = r.int64OrNil(row, 4).map { Int($0) }
                sender.concurrency = Int(r.int64(row, 5))
                sender.origin = .stored
                sender.createdAt = r.int64(row, 6)
                sender.updatedAt = r.int64(row, 7)
                return sender
            }
        }
    }
}
