// Senders in the embedded store.

extension SQLiteQueueStore {
    public func putSender(_ sender: Sender, now: Int64) async throws -> Sender {
        try await writer.submit { db, _ in
            let s = try db.statement(
                """
                INSERT INTO senders(id, channel, settings, rate, burst, concurrency, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                ON CONFLICT(id) DO UPDATE SET channel = ?2, settings = ?3, rate = ?4, burst = ?5, concurrency = ?6,
                    updated_at = ?7
                RETURNING created_at
                """)
            s.bind(1, sender.id)
            s.bind(2, sender.channel)
            s.bind(3, sender.settingsJSON)
            s.bind(4, sender.rate?.description)
            s.bind(5, sender.burst.map(Int64.init))
            s.bind(6, Int64(sender.concurrency))
            s.bind(7, now)
            defer { s.reset() }
            var stored = sender
            stored.origin = .stored
            stored.createdAt = try s.step() ? s.int64(0) : now
            stored.updatedAt = now
            return stored
        }
    }

    public func senders(after: String, limit: Int) async throws -> [Sender] {
        try await reader.submit { db, _ in
            let s = try db.statement(
                """
                SELECT id, channel, settings, rate, burst, concurrency, created_at, updated_at
                FROM senders WHERE id > ? ORDER BY id LIMIT ?
                """)
            s.bind(1, after)
            s.bind(2, Int64(limit))
            defer { s.reset() }
            var senders: [Sender] = []
            while try s.step() {
                var sender = Sender(id: s.string(0), channel: s.string(1))
                sender.settingsJSON = s.string(2)
                sender.rate = try StoredValueError.rate(s.stringOrNil(3), table: "senders", row: sender.id)
                sender.burst = s.int64OrNil(4).map { Int($0) }
                sender.concurrency = Int(s.int64(5))
                sender.origin = .stored
                sender.createdAt = s.int64(6)
                sender.updatedAt = s.int64(7)
                senders.append(sender)
            }
            return senders
        }
    }
}
