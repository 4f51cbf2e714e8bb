// What the rest of the daemon needs from durable storage. SQLiteQueueStore is the embedded
// engine; another engine (PostgreSQL) implements the same protocol.

public protocol QueueStore: Sendable {
    /// Stores messages durably; returns once they survive a crash. A repeated idempotency key
    /// (per tenant) stores nothing and answers with the first message's id.
    func enqueue(_ messages: [NewMessage], now: Int64) async throws -> [EnqueueResult]

    /// Takes up to `limit` messages of `channel` due at or before `now`, oldest first, and marks
    /// them in flight. Each is given out once until its outcome is recorded (or a restart).
    func claimDue(channel: String, now: Int64, limit: Int) async throws -> [ClaimedMessage]

    /// Records outcomes of claimed messages, with one history entry each.
    func record(_ outcomes: [DeliveryOutcome]) async throws

    /// The earliest due time among the channel's queued messages.
    func nextDueTime(channel: String) async throws -> Int64?

    /// How many queued messages are due at `now`, counting at most `cap`.
    func dueCount(now: Int64, cap: Int) async throws -> Int

    func message(id: Int64) async throws -> StoredMessage?

    /// Dead messages matching `filter`, oldest first, with ids above `after`.
    func deadLetters(_ filter: DeadLetterFilter, after: Int64, limit: Int) async throws -> [StoredMessage]

    /// Makes matching dead messages due at `now` with their tries counted from zero; returns how many.
    func retryDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int

    /// Marks matching dead messages cancelled (kept, with their history and idempotency keys, so
    /// a re-import sends nothing); returns how many.
    func purgeDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int

    func stats() async -> QueueStats

    /// Makes due again every message left in flight by a previous run; returns how many.
    func recoverInflight() async throws -> Int

    func close() async
}
