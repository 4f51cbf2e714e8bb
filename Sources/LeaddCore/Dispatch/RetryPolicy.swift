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
        case .channelUnavailable:
            // The destination is sick, not the message: try again later without using up an attempt,
            // so an outage can never dead-letter anything.
            return make(.deferred(at: now + wait(result)), "unavailable")
        case .retry:
            if message.attemptCount + 1 >= maxAttempts {
                var dead = make(.dead, "dead")
                dead.detail = "retry after \(maxAttempts) attempts: \(result.detail ?? "no detail")"
                return dead
            }
            return make(.retry(at: now + wait(result)), "retry")
        }
    }

    private func wait(_ result: PluginResult) -> Int64 {
        max(delay.milliseconds, result.retryAfterMilliseconds ?? 0)
    }
}
