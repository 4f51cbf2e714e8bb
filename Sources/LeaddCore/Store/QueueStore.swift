// What the rest of the daemon needs from durable storage. SQLiteQueueStore is the embedded
// engine; another engine (PostgreSQL) implements the same protocol.

public protocol QueueStore: CampaignStore, FeedbackStore, SenderStore {
    /// Stores messages durably; returns once they survive a crash. A repeated idempotency key
    /// (per tenant) stores nothing and answers with the first message's id.
    func enqueue(_ messages: [NewMessage], now: Int64) async throws -> [EnqueueResult]

    /// The lanes (priority, tenant, lead zone, campaign) of `channel` that hold queued messages.
    func queueLanes(channel: String) async throws -> [QueueLane]

    /// Up to `limit` queued entries of one lane after `after` and due by `dueBy`, in lane order.
    func queued(
        channel: String, lane: QueueLane, after: QueueEntry?, dueBy: Int64, limit: Int
    ) async throws -> [QueueEntry]

    /// Marks the picked messages in flight and returns them; a pick no longer queued (claimed or
    /// cancelled since it was read) is left out. Each message is given out once until its
    /// outcome is recorded (or a restart).
    func claim(channel: String, _ picks: [QueuedRow]) async throws -> [ClaimedMessage]

    /// Calls `observer` with every row that enters the queue, once its transaction has committed.
    func observeQueue(_ observer: @escaping @Sendable ([QueuedRow]) -> Void)

    /// Gives claimed messages back without a try or a history entry: queued again at their due
    /// time (`scheduled`), or held with their paused campaign, or cancelled with it.
    func release(_ messages: [ClaimedMessage], to state: MessageState) async throws

    /// Records outcomes of claimed messages, with one history entry each.
    func record(_ outcomes: [DeliveryOutcome]) async throws

    func message(id: Int64) async throws -> StoredMessage?

    /// Dead messages matching `filter`, oldest first, with ids above `after`.
    func deadLetters(_ filter: DeadLetterFilter, after: Int64, limit: Int) async throws -> [StoredMessage]

    /// Makes matching dead messages due at `now` with their tries counted from zero; returns how many.
    func retryDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int

    /// Marks matching dead messages cancelled (kept, with their history and idempotency keys, so
    /// a re-import sends nothing); returns how many.
    func purgeDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int

    /// Counts by channel and state, kept in memory: answered without waiting on the store.
    func stats() -> QueueStats

    /// Makes due again every message left in flight by a previous run, with an `unknown` line in
    /// its history, and dead-letters one in flight at too many stops (InflightRecovery); returns
    /// how many are due again.
    func recoverInflight() async throws -> Int

    /// Calls `observer` when lanes may hold rows this node has not heard of (added by another
    /// node sharing the store), from the given due time on.
    func observeReopenedLanes(_ observer: @escaping @Sendable ([ReopenedLane]) -> Void)

    /// The part of channel-wide and sender limits this node may use (1 when it is alone).
    var rateShare: Double { get }

    /// The nodes sharing the store; nil for a store of one node.
    var cluster: ClusterStatus? { get }

    func close() async
}

/// A lane to read again from `from` on: rows may have entered it that this node did not see.
public struct ReopenedLane: Hashable, Sendable {
    public var channel: String
    public var lane: QueueLane
    public var from: Int64

    public init(channel: String, lane: QueueLane, from: Int64) {
        self.channel = channel
        self.lane = lane
        self.from = from
    }
}

/// Which nodes share the store and what each holds.
public struct ClusterStatus: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var name: String
        public var host: String
        public var pid: Int
        /// Milliseconds since the node last renewed its lease (database clock).
        public var silentFor: Int64
        /// Messages the node holds in flight, by channel.
        public var inFlight: [String: Int64]
    }

    /// This node's name.
    public var node: String
    /// The live nodes, by name.
    public var nodes: [Node]
    public var lease: Duration
}

extension QueueStore {
    public func observeReopenedLanes(_ observer: @escaping @Sendable ([ReopenedLane]) -> Void) {}
    public var rateShare: Double { 1 }
    public var cluster: ClusterStatus? { nil }

    /// Claims up to `limit` of the channel's messages due by `now`, oldest first across lanes:
    /// for tools and tests; the dispatcher picks through its scheduler instead.
    public func claimDue(channel: String, now: Int64, limit: Int) async throws -> [ClaimedMessage] {
        var due: [QueuedRow] = []
        for lane in try await queueLanes(channel: channel) {
            let entries = try await queued(channel: channel, lane: lane, after: nil, dueBy: now, limit: limit)
            for entry in entries {
                due.append(QueuedRow(channel: channel, lane: lane, entry: entry))
            }
        }
        due.sort { $0.entry < $1.entry }
        return try await claim(channel: channel, Array(due.prefix(limit)))
    }
}
