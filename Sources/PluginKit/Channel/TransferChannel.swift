import LeaddSync
import PluginAPI

/// Drives one channel: turns each message into its provider's request, runs them on a
/// `TransferEngine`, reports each classified result to the host, and keeps the channel's health.
public final class TransferChannel: Sendable {
    private let engine: TransferEngine
    private let provider: any TransferProvider
    private let host: PluginHost
    private let problem = Locked<String?>(nil)

    public init(provider: any TransferProvider, transport: TransportSettings, host: PluginHost, name: String) {
        self.provider = provider
        self.host = host
        engine = TransferEngine(settings: transport, name: name)
    }

    public func send(_ messages: [PluginMessage]) {
        for message in messages {
            let request: TransferRequest
            do {
                request = try provider.request(for: message)
            } catch {
                host.complete(message.token, .failed(error.description))
                continue
            }
            engine.submit(request) { [self] response in
                let result = provider.classify(response, for: message)
                note(result)
                host.complete(message.token, result)
            }
        }
    }

    /// The last reason the provider was unreachable or refused us, until it answers again.
    public func healthProblem() -> String? { problem.withLock { $0 } }

    public func shutdown() { engine.shutdown() }

    private func note(_ result: PluginResult) {
        switch result.outcome {
        case .channelUnavailable: problem.withLock { $0 = result.detail ?? "unavailable" }
        case .delivered, .failed: problem.withLock { $0 = nil }
        case .retry: break
        }
    }
}
