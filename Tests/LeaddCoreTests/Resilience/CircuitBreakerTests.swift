import Testing

@testable import LeaddCore

@Suite struct CircuitBreakerTests {
    var config: BreakerConfig {
        var c = BreakerConfig()
        c.failureRate = 0.5
        c.minimumCalls = 10
        c.window = .seconds(10)
        c.openFor = .seconds(30)
        c.probes = 3
        // These tests look at the failure rate alone; the run of failures has tests of its own.
        c.consecutiveFailures = 0
        return c
    }

    @Test func opensAfterAFewFailuresInARowWhateverTheWindowHolds() {
        var b = CircuitBreaker(config: BreakerConfig(), now: 0)
        #expect(BreakerConfig().consecutiveFailures == 5)
        // A busy, healthy spell fills the window with successes.
        #expect(b.record(calls: 200, failures: 0, now: 1_000) == nil)
        for n in 1...4 {
            #expect(b.record(calls: 1, failures: 1, now: 1_000 + Int64(n)) == nil)
        }
        #expect(b.record(calls: 1, failures: 1, now: 1_010) == .open(until: 31_010))
        #expect(b.reason?.contains("5 calls in a row") == true, "\(String(describing: b.reason))")
    }

    @Test func aSuccessBreaksTheRunOfFailures() {
        var b = CircuitBreaker(config: BreakerConfig(), now: 0)
        #expect(b.record(calls: 4, failures: 4, now: 1_000) == nil)
        #expect(b.record(calls: 3, failures: 2, now: 1_001) == nil)
        #expect(b.record(calls: 4, failures: 4, now: 1_002) == nil)
        #expect(b.record(calls: 1, failures: 1, now: 1_003) == .open(until: 31_003))
    }

    @Test func aProviderAskingToWaitPausesUntilThen() {
        var b = CircuitBreaker(config: BreakerConfig(), now: 0)
        #expect(
            b.record(calls: 1, failures: 1, now: 1_000, waitUntil: 4_000, cause: "429 Too Many Requests")
                == .open(until: 4_000))
        #expect(b.reason?.contains("429") == true)
        #expect(b.permission(now: 3_999) == .wait(until: 4_000))
        // Answers of calls already out when it paused may ask for longer; never for shorter.
        #expect(b.record(calls: 1, failures: 1, now: 1_100, waitUntil: 6_000, cause: "429") == .open(until: 6_000))
        #expect(b.record(calls: 1, failures: 1, now: 1_200, waitUntil: 2_000, cause: "429") == nil)
        #expect(b.permission(now: 6_000) == .send(limit: 5))
        // A probe asked to wait again pauses again, for as long as it was told.
        b.sent(1)
        #expect(b.record(calls: 1, failures: 1, now: 6_100, waitUntil: 9_100, cause: "429") == .open(until: 9_100))
        _ = b.permission(now: 9_100)
        b.sent(1)
        #expect(b.record(calls: 1, failures: 0, now: 9_200) == .closed)
    }

    @Test func staysClosedBelowTheMinimumNumberOfCalls() {
        var b = CircuitBreaker(config: config, now: 0)
        #expect(b.record(calls: 9, failures: 9, now: 1_000) == nil)
        #expect(b.state == .closed)
        #expect(b.permission(now: 1_000) == .send(limit: nil))
    }

    @Test func opensWhenTheFailureRateReachesTheThreshold() {
        var b = CircuitBreaker(config: config, now: 0)
        #expect(b.record(calls: 6, failures: 1, now: 1_000) == nil)
        #expect(b.record(calls: 4, failures: 4, now: 2_000) == .open(until: 32_000))
        #expect(b.permission(now: 31_999) == .wait(until: 32_000))
    }

    @Test func troubleLastsFromTheFirstOpeningUntilItCloses() {
        var b = CircuitBreaker(config: config, now: 0)
        #expect(b.troubleSince == nil)
        b.record(calls: 10, failures: 10, now: 1_000)
        #expect(b.troubleSince == 1_000)
        // A failed probe opens it again; the trouble still dates from the first opening.
        _ = b.permission(now: 31_000)
        b.sent(1)
        b.record(calls: 1, failures: 1, now: 31_500)
        #expect(b.state == .open(until: 61_500))
        #expect(b.troubleSince == 1_000)
        _ = b.permission(now: 61_500)
        b.sent(3)
        b.record(calls: 3, failures: 0, now: 62_000)
        #expect(b.state == .closed)
        #expect(b.troubleSince == nil)
    }

    @Test func oldResultsLeaveTheWindow() {
        var b = CircuitBreaker(config: config, now: 0)
        _ = b.record(calls: 8, failures: 8, now: 1_000)
        // Eleven seconds later those eight failures are out of the 10 s window.
        #expect(b.record(calls: 4, failures: 0, now: 12_000) == nil)
        #expect(b.calls == 4)
        #expect(b.failures == 0)
    }

    @Test func halfOpenLetsProbesThroughAndClosesOnSuccess() {
        var b = CircuitBreaker(config: config, now: 0)
        _ = b.record(calls: 10, failures: 10, now: 0)
        #expect(b.permission(now: 30_000) == .send(limit: 3))
        #expect(b.state == .halfOpen)
        b.sent(3)
        #expect(b.permission(now: 30_001) == .wait(until: 30_101))
        #expect(b.record(calls: 3, failures: 0, now: 30_500) == .closed)
        #expect(b.permission(now: 30_500) == .send(limit: nil))
    }

    @Test func aFailedProbeOpensAgain() {
        var b = CircuitBreaker(config: config, now: 0)
        _ = b.record(calls: 10, failures: 10, now: 0)
        _ = b.permission(now: 30_000)
        b.sent(3)
        #expect(b.record(calls: 3, failures: 1, now: 30_200) == .open(until: 60_200))
    }

    @Test func resultsArrivingWhileOpenChangeNothing() {
        var b = CircuitBreaker(config: config, now: 0)
        _ = b.record(calls: 10, failures: 10, now: 0)
        #expect(b.record(calls: 50, failures: 0, now: 100) == nil)
        #expect(b.state == .open(until: 30_000))
    }

    @Test func resetClosesAndIsIdempotent() {
        var b = CircuitBreaker(config: config, now: 0)
        _ = b.record(calls: 10, failures: 10, now: 0)
        #expect(b.reset(now: 5) == .closed)
        #expect(b.reset(now: 6) == nil)
        #expect(b.since == 5)
    }
}

extension CircuitBreakerTests {
    /// Results of calls handed over before the breaker opened arrive while it is half-open:
    /// they are not the probes' answers and must not close it.
    @Test func resultsSentBeforeItOpenedDoNotCountAsProbes() {
        var b = CircuitBreaker(config: BreakerConfig(), now: 0)
        let before = b.sent(10)
        #expect(b.record(calls: 5, failures: 5, now: 1_000) == .open(until: 31_000))
        #expect(b.permission(now: 31_000) == .send(limit: 5))
        let probe = b.sent(1)
        #expect(probe != before)
        // The late healthy answers of the batch sent before the outage change nothing.
        #expect(b.record(calls: 5, failures: 0, now: 31_100, epoch: before) == nil)
        #expect(b.state == .halfOpen)
        // The probe's own answer decides.
        #expect(b.record(calls: 1, failures: 1, now: 31_200, epoch: probe) == .open(until: 61_200))
    }

    /// A probe held back before it reached the channel (suppressed, outside its window) is given
    /// back, so the breaker does not wait for it for ever.
    @Test func probesHeldBackAreGivenBack() {
        var config = BreakerConfig()
        config.probes = 1
        var b = CircuitBreaker(config: config, now: 0)
        #expect(b.record(calls: 5, failures: 5, now: 1_000) == .open(until: 31_000))
        #expect(b.permission(now: 31_000) == .send(limit: 1))
        let epoch = b.sent(1)
        #expect(b.permission(now: 31_001) == .wait(until: 31_101))
        b.unsent(1, epoch: epoch)
        #expect(b.permission(now: 31_002) == .send(limit: 1))
    }
}
