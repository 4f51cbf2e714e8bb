import PluginAPI
import Testing

@testable import LeaddCore

@Suite struct RetryPolicyTests {
    var policy: RetryPolicy {
        var config = RetryConfig()
        config.delay = .seconds(30)
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

    @Test func transientFailureWaitsTheDelayOrTheProvidersRetryAfter() {
        #expect(policy.outcome(for: .retry("503"), of: claimed(attempts: 0), now: 100).kind == .retry(at: 30_100))
        let later = policy.outcome(for: .retry("429", afterMilliseconds: 120_000), of: claimed(attempts: 1), now: 100)
        #expect(later.kind == .retry(at: 120_100))
        let unavailable = policy.outcome(for: .channelUnavailable("refused"), of: claimed(attempts: 0), now: 0)
        #expect(unavailable.word == "unavailable")
        #expect(unavailable.kind == .deferred(at: 30_000))
    }

    @Test func anUnavailableChannelNeverUsesUpTheLastAttempt() {
        let o = policy.outcome(for: .channelUnavailable("503 storm"), of: claimed(attempts: 2), now: 100)
        #expect(o.kind == .deferred(at: 30_100))
    }

    @Test func theLastAttemptIsDead() {
        let o = policy.outcome(for: .retry("503"), of: claimed(attempts: 2), now: 100)
        #expect(o.kind == .dead)
        #expect(o.detail == "retry after 3 attempts: 503")
    }
}
