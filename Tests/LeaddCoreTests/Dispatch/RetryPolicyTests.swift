import PluginAPI
import Testing

@testable import LeaddCore

@Suite struct RetryPolicyTests {
    var policy: RetryPolicy {
        var config = RetryConfig()
        config.initial = .seconds(30)
        config.multiplier = 2
        config.max = .seconds(100)
        config.maxAttempts = 3
        return RetryPolicy(config)
    }

    func claimed(attempts: Int) -> ClaimedMessage {
        ClaimedMessage(
            id: 7, tenant: "t", channel: "sms", to: "+1", contentJSON: "{}", idempotencyKey: "k", dueAt: 0,
            attemptCount: attempts)
    }

    @Test func deliveredIsSent() {
        let o = policy.outcome(for: .delivered(providerID: "p"), of: claimed(attempts: 0), now: 100)
        #expect(o.kind == .sent(providerID: "p"))
        #expect(o.word == "delivered")
    }

    @Test func permanentFailureIsFailed() {
        #expect(policy.outcome(for: .failed("bad"), of: claimed(attempts: 0), now: 100).kind == .failed)
    }

    @Test func backoffGrowsExponentiallyUpToTheMaximum() {
        #expect(policy.backoff(afterAttempts: 1) == 30_000)
        #expect(policy.backoff(afterAttempts: 2) == 60_000)
        #expect(policy.backoff(afterAttempts: 3) == 100_000)
        #expect(policy.backoff(afterAttempts: 10) == 100_000)
    }

    @Test func jitterStaysBetweenHalfAndAllOfTheBackoff() {
        var random = SplitMix64(seed: 42)
        var seen = Set<Int64>()
        for _ in 0..<1000 {
            let j = policy.jittered(60_000, using: &random)
            #expect((30_000...60_000).contains(j))
            seen.insert(j)
        }
        #expect(seen.count > 100)
    }

    @Test func transientFailureBacksOffOrWaitsTheProvidersRetryAfter() {
        var random = SplitMix64(seed: 7)
        let first = policy.outcome(for: .retry("503"), of: claimed(attempts: 0), now: 100, random: &random)
        guard case .retry(let at) = first.kind else {
            Issue.record("expected a retry, got \(first.kind)")
            return
        }
        #expect((15_100...30_100).contains(at))
        let later = policy.outcome(
            for: .retry("429", afterMilliseconds: 500_000), of: claimed(attempts: 1), now: 100, random: &random)
        #expect(later.kind == .retry(at: 500_100))
        let unavailable = policy.outcome(for: .channelUnavailable("refused"), of: claimed(attempts: 0), now: 0)
        #expect(unavailable.word == "unavailable")
        #expect(unavailable.kind == .deferred(at: 30_000))
    }

    @Test func anUnavailableChannelNeverUsesUpTheLastAttempt() {
        let o = policy.outcome(for: .channelUnavailable("503 storm"), of: claimed(attempts: 2), now: 100)
        #expect(o.kind == .deferred(at: 30_100))
    }

    /// A provider that asked for three seconds pauses the channel that long; the message is due
    /// again when the pause ends, not after the longer backoff.
    @Test func anUnavailableChannelThatSaidWhenIsTriedThen() {
        let o = policy.outcome(
            for: .channelUnavailable("429", afterMilliseconds: 3_000), of: claimed(attempts: 0), now: 100)
        #expect(o.kind == .deferred(at: 3_100))
    }

    @Test func aMessagePastItsMaximumAgeIsDead() {
        var config = policy.config
        config.maxAge = .seconds(60)
        var old = claimed(attempts: 0)
        old.createdAt = 0
        let o = RetryPolicy(config).outcome(for: .retry("503"), of: old, now: 50_000)
        #expect(o.kind == .dead)
        #expect(o.detail?.contains("max_age") == true)
    }

    @Test func theLastAttemptIsDead() {
        let o = policy.outcome(for: .retry("503"), of: claimed(attempts: 2), now: 100)
        #expect(o.kind == .dead)
        #expect(o.detail == "retry after 3 attempts: 503")
    }
}

/// A seeded generator, so jitter tests are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
