// What the daemon needs from durable storage for senders stored through the control protocol.

public protocol SenderStore: Sendable {
    /// Creates or replaces a sender; returns it with its stored times.
    func putSender(_ sender: Sender, now: Int64) async throws -> Sender

    /// Stored senders ordered by id after `after`.
    func senders(after: String, limit: Int) async throws -> [Sender]
}
