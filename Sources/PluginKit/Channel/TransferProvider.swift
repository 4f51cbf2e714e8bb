import PluginAPI

/// A provider's protocol, as one request per message and a reading of its reply. The engine,
/// concurrency and health are `TransferChannel`'s; a provider only translates.
public protocol TransferProvider: Sendable {
    /// The request that sends `message`, or why this message can never be sent as it is.
    func request(for message: PluginMessage) throws(MessageProblem) -> TransferRequest

    /// What the reply (or the lack of one) means for the message.
    func classify(_ response: TransferResponse, for message: PluginMessage) -> PluginResult
}
