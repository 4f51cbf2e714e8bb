import Testing

@testable import LeaddCore

@Suite struct SenderGateTests {
    func sender(_ id: String, rate: Int? = nil, concurrency: Int = 4) -> Sender {
        var s = Sender(id: id, channel: "whatsapp")
        s.rate = rate.map { Rate(count: $0, per: .seconds(1)) }
        s.concurrency = concurrency
        return s
    }

    var breaker: BreakerConfig {
        var b = BreakerConfig()
        b.minimumCalls = 4
        b.failureRate = 0.5
        b.openFor = .seconds(10)
        b.probes = 2
        return b
    }

    @Test func aTenantWithoutSendersHereUsesTheChannelsOwnSettings() {
        var gate = SenderGate()
        gate.update([sender("a")], breaker: breaker, now: 0)
        #expect(gate.choose(among: [], key: "t", now: 0) == .channelDefault)
        // A sender of another channel is not this channel's business.
        #expect(gate.choose(among: ["sms-only"], key: "t", now: 0) == .channelDefault)
        #expect(gate.choose(among: ["sms-only", "a"], key: "t", now: 0) == .sender("a"))
    }

    @Test func eachSenderHasItsOwnRate() {
        var gate = SenderGate()
        gate.update([sender("slow", rate: 2), sender("fast", rate: 10)], breaker: breaker, now: 0)
        var slow = 0
        var fast = 0
        // One simulated second, asking every millisecond for both tenants.
        for now in Int64(0)..<1000 {
            if case .sender = gate.choose(among: ["slow"], key: "t1", now: now) { slow += 1 }
            if case .sender = gate.choose(among: ["fast"], key: "t2", now: now) { fast += 1 }
            _ = gate.finishPick()
            for id in ["slow", "fast"] { _ = gate.finished(id, calls: 0, failures: 0, now: now) }
        }
        // A full bucket (one second's worth) and then the rate: at most 2 + 2 and 10 + 10.
        #expect(slow <= 4 && slow >= 3)
        #expect(fast <= 20 && fast >= 19)
        #expect(gate.choose(among: ["slow"], key: "t1", now: 999) == .notBefore(1000))
    }

    @Test func turnsRotateAmongATenantsSenders() {
        var gate = SenderGate()
        gate.update([sender("a"), sender("b"), sender("c")], breaker: breaker, now: 0)
        var seen: [SenderGate.Choice] = []
        for _ in 0..<6 { seen.append(gate.choose(among: ["a", "b", "c"], key: "t", now: 0)) }
        #expect(seen == [.sender("a"), .sender("b"), .sender("c"), .sender("a"), .sender("b"), .sender("c")])
    }

    @Test func aBusySenderIsSkippedAndAFullOneHoldsTheMessage() {
        var gate = SenderGate()
        gate.update([sender("a", concurrency: 1), sender("b", concurrency: 1)], breaker: breaker, now: 0)
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .sender("a"))
        // Several messages for a sender already in this pick share its one call.
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .sender("a"))
        #expect(gate.finishPick() == ["a"])
        #expect(gate.slots["a"]?.inFlight == 1)
        #expect(gate.choose(among: ["a", "b"], key: "t", now: 1) == .sender("b"))
        _ = gate.finishPick()
        #expect(gate.choose(among: ["a", "b"], key: "t", now: 2) == .notBefore(12))
        _ = gate.finished("a", calls: 2, failures: 0, now: 3)
        #expect(gate.choose(among: ["a", "b"], key: "t", now: 3) == .sender("a"))
    }

    @Test func oneSendersOpenBreakerLeavesTheOthersSending() {
        var gate = SenderGate()
        gate.update([sender("sick"), sender("well")], breaker: breaker, now: 0)
        #expect(gate.choose(among: ["sick"], key: "t1", now: 0) == .sender("sick"))
        _ = gate.finishPick()
        gate.sent("sick", 1)
        #expect(gate.finished("sick", calls: 4, failures: 4, now: 5) == .open(until: 10_005))
        #expect(gate.choose(among: ["sick"], key: "t1", now: 6) == .notBefore(10_005))
        #expect(gate.choose(among: ["well"], key: "t2", now: 6) == .sender("well"))
        // A tenant on both goes through the one that can send.
        #expect(gate.choose(among: ["sick", "well"], key: "t3", now: 6) == .sender("well"))
        _ = gate.finishPick()
        _ = gate.finished("well", calls: 2, failures: 0, now: 7)
        // Half-open after open_for: only `probes` messages go, and a good answer closes it.
        #expect(gate.choose(among: ["sick"], key: "t1", now: 10_005) == .sender("sick"))
        #expect(gate.choose(among: ["sick"], key: "t1", now: 10_005) == .sender("sick"))
        #expect(gate.choose(among: ["sick"], key: "t1", now: 10_005) == .notBefore(10_105))
        _ = gate.finishPick()
        gate.sent("sick", 2)
        // A probe held back before the call (say by a closing window) is not waited for.
        #expect(gate.finished("sick", calls: 1, failures: 0, unsent: 1, now: 10_100) == .closed)
    }

    @Test func aTokenGivenBackCanBeUsedAgain() {
        var gate = SenderGate()
        gate.update([sender("a", rate: 1)], breaker: breaker, now: 0)
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .sender("a"))
        gate.giveBack("a", now: 0)
        #expect(gate.finishPick().isEmpty)
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .sender("a"))
    }

    @Test func aSenderWhosePluginDidNotStartHoldsItsTenantsBack() {
        var gate = SenderGate()
        gate.update([sender("a")], breaker: breaker, now: 0)
        gate.setReady("a", false)
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .notBefore(1_000))
    }

    /// A call made before a sender's breaker opened comes back while it is half-open: its
    /// successes say nothing of the provider now and must not close the breaker.
    @Test func aCallFromBeforeTheBreakerOpenedIsNoProbe() {
        var gate = SenderGate()
        gate.update([sender("a")], breaker: breaker, now: 0)
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .sender("a"))
        _ = gate.finishPick()
        let before = gate.sent("a", 4)
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .sender("a"))
        _ = gate.finishPick()
        let failing = gate.sent("a", 4)
        #expect(gate.finished("a", calls: 4, failures: 4, now: 1, epoch: failing) == .open(until: 10_001))
        // Half-open: the probes go out, and then the old call answers with four successes.
        #expect(gate.choose(among: ["a"], key: "t", now: 10_001) == .sender("a"))
        _ = gate.finishPick()
        let probes = gate.sent("a", 2)
        #expect(gate.finished("a", calls: 4, failures: 0, now: 10_002, epoch: before) == nil)
        #expect(gate.slots["a"]?.breaker.state == .halfOpen)
        // The probes' own answers decide.
        #expect(gate.finished("a", calls: 2, failures: 0, now: 10_003, epoch: probes) == .closed)
    }

    @Test func anUpdateKeepsBreakersAndRebuildsChangedBuckets() {
        var gate = SenderGate()
        gate.update([sender("a", rate: 1)], breaker: breaker, now: 0)
        #expect(gate.choose(among: ["a"], key: "t", now: 0) == .sender("a"))
        _ = gate.finishPick()
        _ = gate.finished("a", calls: 4, failures: 4, now: 0)
        gate.update([sender("a", rate: 100)], breaker: breaker, now: 1)
        #expect(gate.slots["a"]?.breaker.state == .open(until: 10_000))
        // The new limit keeps the tokens held: none were left, so no fresh burst.
        #expect(gate.slots["a"]?.bucket?.rate == Rate(count: 100, per: .seconds(1)))
        #expect(gate.slots["a"]?.bucket?.available(now: 1) == 0)
        gate.update([], breaker: breaker, now: 2)
        #expect(gate.isEmpty)
    }
}
