// Turns a plugin's result into what the store records. A value with no I/O: the engine's
// backoff and breaker policies replace the fixed delay here without touching the loop.
import PluginAPI

public struct RetryPolicy: Sendable, Equatable {
    public var delay: Duration
    public var maxAttempts: Int

    public init(_ config: RetryConfig) {
        self.delay = config.delay
        self.maxAttempts = config.maxAttempts
    }

    public func outcome(for result: PluginResult, of message: ClaimedMessage, now: Int64) -> DeliveryOutcome {
        func make(_ kind: DeliveryOutcome.Kind, _ word: String) -> DeliveryOutcome {
            DeliveryOutcome(
                id: message.id, channel: message.channel, kind: kind, at: now, word: word, detail: result.detail)
        }
        switch result.outcome {
        case .delivered:
            return make(.sent(providerID: result.providerID), "delivered")
        case .failed:
            return make(.failed, "failed")
        case .retry, .channelUnavailable:
            let word = result.outcome == .retry ? "retry" : "unavailable"
            if message.attemptCount + 1 >= maxAttempts {
                var dead = make(.dead, "dead")
                dead.detail = "\(word) after \(maxAttempts) attempts: \(result.detail ?? "no detail")"
                return dead
            }
            let wait = max(delay.milliseconds, result.retryAfterMilliseconds ?? 0)
            return make(.retry(at: now + wait), word)
        }
    }
}
