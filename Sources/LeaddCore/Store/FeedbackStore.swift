// What the daemon needs from durable storage for provider receipts and leads' opt-outs.

public protocol FeedbackStore: Sendable {
    /// Records a receipt in the message's history and moves its state forward; nil when no
    /// message matches.
    func applyReceipt(_ receipt: Receipt) async throws -> ReceiptApplied?

    /// The tenant that last sent to `address` on `channel`.
    func lastSender(to address: String, channel: String) async throws -> String?

    /// Suppresses `address` for `tenant` and cancels its unsent messages; returns how many.
    func optOut(tenant: String, address: String, reason: String, now: Int64) async throws -> Int
}
