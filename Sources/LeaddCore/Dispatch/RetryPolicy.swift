// Turns a plugin's result into what the store records: a value with no I/O, its randomness
// injected. Transient failures back off exponentially with jitter; the time of the next try is
// written to the message's row, so a restart keeps the schedule.
import Foundation
import PluginAPI

public struct RetryPolicy: Sendable, Equatable {
    public var config: RetryConfig

    public init(_ config: RetryConfig) {
        self.config = config
    }

    /// The backoff before the try after `attempts` tries, before jitter and Retry-After.
    public func backoff(afterAttempts attempts: Int) -> Int64 {
        let initial = Double(config.initial.milliseconds)
        let grown = initial * pow(config.multiplier, Double(Swift.max(attempts - 1, 0)))
        return Int64(Swift.min(grown, Double(config.max.milliseconds)))
    }

    /// "Equal jitter": between half and all of the backoff, so retries of a burst spread out
    /// but never come back sooner than half the planned wait.
    public func jittered(_ backoff: Int64, using random: inout some RandomNumberGenerator) -> Int64 {
        let half = backoff / 2
        return half + (backoff - half > 0 ? Int64.random(in: 0...(backoff - half), using: &random) : 0)
    }

    public func outcome(for result: PluginResult, of message: ClaimedMessage, now: Int64) -> DeliveryOutcome {
        var random = SystemRandomNumberGenerator()
        return outcome(for: result, of: message, now: now, random: &random)
    }

    public func outcome(
        for result: PluginResult, of message: ClaimedMessage, now: Int64, random: inout some RandomNumberGenerator
    ) -> DeliveryOutcome {
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
            // so an outage can never dead-letter anything. A provider that said when (Retry-After)
            // pauses the channel until then, and the message is due again as the pause ends.
            let asked = result.retryAfterMilliseconds ?? 0
            let wait = asked > 0 ? asked : config.initial.milliseconds
            return make(.deferred(at: now + wait), "unavailable")
        case .retry:
            let tries = message.attemptCount + 1
            if tries >= config.maxAttempts {
                var dead = make(.dead, "dead")
                dead.detail = "retry after \(config.maxAttempts) attempts: \(result.detail ?? "no detail")"
                return dead
            }
            let wait = Swift.max(
                jittered(backoff(afterAttempts: tries), using: &random), result.retryAfterMilliseconds ?? 0)
            if let maxAge = config.maxAge, now + wait - message.createdAt > maxAge.milliseconds {
                var dead = make(.dead, "dead")
                dead.detail = "retry would pass max_age \(DurationText.format(maxAge)): \(result.detail ?? "no detail")"
                return dead
            }
            return make(.retry(at: now + wait), "retry")
        }
    }
}
