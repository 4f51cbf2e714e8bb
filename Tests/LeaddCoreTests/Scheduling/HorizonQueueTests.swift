import Testing

@testable import LeaddCore

@Suite struct HorizonQueueTests {
    func lane(_ tenant: String, _ priority: Priority = .normal) -> QueueLane {
        QueueLane(priority: priority, tenant: tenant)
    }

    /// A queue fed by announcements only (as after a start with an empty store).
    func queue(_ rows: [(QueueLane, Int64)], capacity: Int = 100_000) -> HorizonQueue {
        var q = HorizonQueue(channel: "sms", settings: .init(horizon: 1_000_000, laneCapacity: capacity))
        q.noted(
            rows.enumerated().map {
                QueuedRow(channel: "sms", lane: $1.0, entry: QueueEntry(dueAt: $1.1, id: Int64($0)))
            },
            now: 0)
        return q
    }

    func pick(_ q: inout HorizonQueue, now: Int64 = 0, limit: Int, weights: [String: Int] = [:]) -> [QueuedRow] {
        q.pick(now: now, limit: limit, weight: { weights[$0] ?? 1 }, permit: { _ in .granted }).picks
    }

    /// Rows announced before the store's lanes were listed (a commit answered just before the
    /// dispatcher started, its announcement late) say nothing of what else the lane holds: the
    /// lane is read from its start, so rows queued earlier are not taken for absent.
    @Test func anAnnouncementBeforeTheStartDoesNotHideTheLanesOtherRows() {
        var q = HorizonQueue(channel: "sms", settings: .init(horizon: 1_000_000, laneCapacity: 1_000))
        let key = lane("acme")
        q.noted((0..<100).map { QueuedRow(channel: "sms", lane: key, entry: QueueEntry(dueAt: 0, id: $0)) }, now: 0)
        q.start(lanes: [key])
        let reads = q.refills(now: 0)
        #expect(reads.map(\.lane) == [key])
        #expect(reads.first?.after == nil)
        // The store holds 400: the announced 100 and 300 queued before.
        let stored = (0..<400).map { QueueEntry(dueAt: 0, id: Int64($0)) }
        for read in reads { q.refilled(read, entries: stored, next: nil, now: 0) }
        #expect(pick(&q, limit: 1_000).count == 400)
    }

    @Test func upcomingEntriesArePeekedNotTaken() {
        var q = queue([(lane("a"), 5), (lane("a"), 50), (lane("b"), 120), (lane("b"), 40), (lane("c"), 500)])
        let soon = q.upcoming(after: 10, through: 150, limit: 10, skip: { _ in false })
        #expect(soon.map(\.entry.dueAt) == [40, 50, 120])
        #expect(q.upcoming(after: 10, through: 150, limit: 2, skip: { _ in false }).map(\.entry.dueAt) == [40, 50])
        #expect(q.upcoming(after: 10, through: 150, limit: 10, skip: { $0 == 1 }).map(\.entry.dueAt) == [40, 120])
        // Nothing was taken: they are all still there to pick when due.
        #expect(pick(&q, now: 150, limit: 10).count == 4)
    }

    @Test func aSmallTenantIsNotDelayedByABigOne() {
        var q = queue(
            Array(repeating: (lane("big"), 0), count: 10_000) + Array(repeating: (lane("small"), 5), count: 10))
        let picks = pick(&q, now: 10, limit: 20)
        #expect(picks.filter { $0.lane.tenant == "small" }.count == 10)
        #expect(picks.filter { $0.lane.tenant == "big" }.count == 10)
    }

    @Test func aTenantWithManyCampaignsGetsOneShare() {
        var rows: [(QueueLane, Int64)] = []
        for c in 0..<5 {
            rows += Array(repeating: (QueueLane(priority: .normal, tenant: "many", campaign: "c\(c)"), 0), count: 100)
        }
        rows += Array(repeating: (lane("one"), 0), count: 100)
        var q = queue(rows)
        let picks = pick(&q, limit: 100)
        #expect(picks.filter { $0.lane.tenant == "one" }.count == 50)
        // The busy tenant's campaigns take turns within its share.
        let campaigns = Dictionary(grouping: picks.filter { $0.lane.tenant == "many" }, by: \.lane.campaign)
        #expect(campaigns.count == 5)
        #expect(campaigns.values.allSatisfy { $0.count == 10 })
    }

    @Test func weightsShareTheChannelInProportion() {
        var q = queue(Array(repeating: (lane("a"), 0), count: 1000) + Array(repeating: (lane("b"), 0), count: 1000))
        var counts: [String: Int] = [:]
        // In batches of 7 to check that turns carry over from one batch to the next.
        for _ in 0..<40 {
            for p in pick(&q, limit: 7, weights: ["a": 3, "b": 1]) { counts[p.lane.tenant, default: 0] += 1 }
        }
        #expect(counts["a"] == 210)
        #expect(counts["b"] == 70)
    }

    @Test func urgentGoesFirstWithoutStarvingTheOthers() {
        var q = queue(
            Array(repeating: (lane("t", .bulk), 0), count: 1000)
                + Array(repeating: (lane("t", .normal), 0), count: 1000)
                + Array(repeating: (lane("t", .urgent), 0), count: 1000))
        let first = pick(&q, limit: 1)
        #expect(first.first?.lane.priority == .urgent)
        var counts: [Priority: Int] = [.urgent: 1]
        for p in pick(&q, limit: 90) { counts[p.lane.priority, default: 0] += 1 }
        #expect(counts == [.urgent: 81, .normal: 9, .bulk: 1])
    }

    @Test func aLowerClassAloneGetsEverything() {
        var q = queue(Array(repeating: (lane("t", .bulk), 0), count: 50))
        #expect(pick(&q, limit: 100).count == 50)
    }

    @Test func nothingIsPickedBeforeItIsDue() {
        var q = queue([(lane("a"), 100), (lane("a"), 200), (lane("b"), 150)])
        #expect(pick(&q, now: 99, limit: 10).isEmpty)
        #expect(q.nextWake(after: 99) == 100)
        #expect(pick(&q, now: 150, limit: 10).map(\.entry.dueAt).sorted() == [100, 150])
        #expect(q.nextWake(after: 150) == 200)
        #expect(pick(&q, now: 1000, limit: 10).map(\.entry.dueAt) == [200])
        #expect(q.nextWake(after: 1000) == nil)
        #expect(q.held == 0)
    }

    /// Entries due now but held back (a closed window, a tenant out of tokens) are the pick's
    /// `blockedUntil`; the next wake looks past them, so a loop does not go round for them.
    @Test func entriesHeldBackDoNotCallForAWakeAtOnce() {
        var q = queue([(lane("a"), 0), (lane("a"), 10), (lane("a"), 5_000), (lane("b"), 20)])
        let result = q.pick(now: 100, limit: 10, weight: { _ in 1 }, permit: { _ in .notBefore(60_000) })
        #expect(result.picks.isEmpty)
        #expect(result.blockedUntil == 60_000)
        #expect(q.nextWake(after: 100) == 5_000)
        #expect(q.nextWake(after: 5_000) == nil)
    }

    @Test func aHeldBackTenantLetsTheOthersGo() {
        var q = queue(
            Array(repeating: (lane("limited"), 0), count: 10) + Array(repeating: (lane("free"), 0), count: 10))
        var allowed = 2
        let result = q.pick(
            now: 0, limit: 100, weight: { _ in 1 },
            permit: { lane in
                guard lane.tenant == "limited" else { return .granted }
                allowed -= 1
                return allowed >= 0 ? .granted : .notBefore(500)
            })
        #expect(result.picks.filter { $0.lane.tenant == "limited" }.count == 2)
        #expect(result.picks.filter { $0.lane.tenant == "free" }.count == 10)
        #expect(result.blockedUntil == 500)
        #expect(q.held == 8)
    }

    @Test func lanesFoundAtStartAreReadAndTheRestWaitsBeyondTheHorizon() {
        var q = HorizonQueue(channel: "sms", settings: .init(horizon: 1_000, laneCapacity: 4))
        q.start(lanes: [lane("a")])
        #expect(q.nextWake(after: 0) == .min)
        let reads = q.refills(now: 0)
        #expect(reads == [HorizonQueue.Refill(lane: lane("a"), after: nil, dueBy: 1_000, limit: 4)])
        // Reads are not repeated while one is in flight.
        #expect(q.refills(now: 0).isEmpty)
        q.refilled(reads[0], entries: [.init(dueAt: 10, id: 1), .init(dueAt: 20, id: 2)], next: 5_000, now: 0)
        #expect(q.held == 2)
        #expect(q.refills(now: 0).isEmpty)
        #expect(pick(&q, now: 20, limit: 10).map(\.entry.id) == [1, 2])
        // The next row comes within the horizon at 4,000.
        #expect(q.nextWake(after: 20) == 4_000)
        let later = q.refills(now: 4_000)
        #expect(later.first?.after == QueueEntry(dueAt: 20, id: 2))
    }

    @Test func aReopenedLaneIsReadAgainFromThereWithoutLosingOrDoublingWhatItHeld() {
        var q = HorizonQueue(channel: "sms", settings: .init(horizon: 1_000, laneCapacity: 10))
        q.start(lanes: [lane("a")])
        let first = q.refills(now: 0)[0]
        q.refilled(first, entries: [.init(dueAt: 10, id: 1), .init(dueAt: 30, id: 3)], next: nil, now: 0)
        // Another node added a row due at 20 (id 7): everything held from 20 on is read again.
        q.reopen(lane("a"), from: 20)
        #expect(q.held == 1)
        let again = q.refills(now: 0)
        #expect(again.first?.after == QueueEntry(dueAt: 19, id: .max))
        q.refilled(again[0], entries: [.init(dueAt: 20, id: 7), .init(dueAt: 30, id: 3)], next: nil, now: 0)
        #expect(pick(&q, now: 100, limit: 10).map(\.entry.id) == [1, 7, 3])
        // A lane never seen is created and read from its start; a reopening during a read waits for it.
        q.reopen(lane("b"), from: 50)
        let b = q.refills(now: 0)
        #expect(b.map(\.lane) == [lane("b")])
        #expect(b.first?.after == nil)
        q.reopen(lane("b"), from: 60)
        q.refilled(b[0], entries: [.init(dueAt: 50, id: 8), .init(dueAt: 60, id: 9)], next: nil, now: 0)
        #expect(q.held == 1)
        #expect(q.refills(now: 0).first?.after == QueueEntry(dueAt: 59, id: .max))
    }

    @Test func announcementsDuringARefillAreNeitherLostNorDoubled() {
        var q = HorizonQueue(channel: "sms", settings: .init(horizon: 1_000, laneCapacity: 10))
        q.start(lanes: [lane("a")])
        let read = q.refills(now: 0)[0]
        // Committed after the read's snapshot (id 3) and before it (id 2, also in the read).
        q.noted(
            [
                QueuedRow(channel: "sms", lane: lane("a"), entry: .init(dueAt: 5, id: 3)),
                QueuedRow(channel: "sms", lane: lane("a"), entry: .init(dueAt: 4, id: 2)),
            ], now: 0)
        q.refilled(read, entries: [.init(dueAt: 1, id: 1), .init(dueAt: 4, id: 2)], next: nil, now: 0)
        #expect(pick(&q, now: 10, limit: 10).map(\.entry.id) == [1, 2, 3])
    }

    @Test func aFullLaneRemembersWhatItDidNotLoad() {
        var q = queue([(lane("a"), 1), (lane("a"), 2)], capacity: 2)
        q.noted([QueuedRow(channel: "sms", lane: lane("a"), entry: .init(dueAt: 3, id: 10))], now: 0)
        #expect(q.held == 2)
        _ = pick(&q, now: 5, limit: 2)
        let reads = q.refills(now: 5)
        #expect(reads.map(\.after) == [QueueEntry(dueAt: 2, id: 1)])
    }

    @Test func anEarlierRowJoinsItsPlaceInALoadedLane() {
        var q = queue([(lane("a"), 100), (lane("a"), 300)])
        q.noted([QueuedRow(channel: "sms", lane: lane("a"), entry: .init(dueAt: 200, id: 9))], now: 0)
        #expect(pick(&q, now: 1000, limit: 10).map(\.entry.dueAt) == [100, 200, 300])
    }

    @Test func picksPutBackAfterAFailedClaimAreOfferedAgain() {
        var q = queue([(lane("a"), 1), (lane("a"), 2)])
        let picks = pick(&q, now: 5, limit: 10)
        #expect(q.held == 0)
        q.putBack(picks)
        #expect(pick(&q, now: 5, limit: 10).map(\.entry.id) == [0, 1])
    }

    /// Property: whatever the load, no tenant bucket and no channel bucket is ever exceeded over
    /// any window, and every message is picked exactly once.
    @Test(arguments: [1, 2, 3, 4, 5])
    func noBucketIsEverExceeded(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let tenantRate = Rate(count: 5, per: .seconds(1))
        let channelRate = Rate(count: 12, per: .seconds(1))
        var q = HorizonQueue(channel: "sms", settings: .init(horizon: 500, laneCapacity: 64))
        var tenantBuckets: [String: TokenBucket] = [:]
        var channel = TokenBucket(rate: channelRate, burst: 3, now: 0)
        var sends: [String: [Int64]] = [:]
        var all: [Int64] = []
        var nextID: Int64 = 0
        var picked = Set<Int64>()
        for step in 0..<4_000 {
            let now = Int64(step * 10)
            if random.next() % 3 == 0 {
                let count = Int(random.next() % 20)
                var rows: [QueuedRow] = []
                for _ in 0..<count {
                    let tenant = "t\(random.next() % 4)"
                    let priority = Priority(rawValue: Int(random.next() % 3))!
                    rows.append(
                        QueuedRow(
                            channel: "sms", lane: QueueLane(priority: priority, tenant: tenant),
                            entry: QueueEntry(dueAt: now + Int64(random.next() % 300), id: nextID)))
                    nextID += 1
                }
                q.noted(rows, now: now)
            }
            let tokens = channel.take(Int(random.next() % 8) + 1, now: now)
            let result = q.pick(
                now: now, limit: tokens, weight: { _ in 1 },
                permit: { lane in
                    let tenant = lane.tenant
                    var bucket = tenantBuckets[tenant] ?? TokenBucket(rate: tenantRate, burst: 2, now: 0)
                    defer { tenantBuckets[tenant] = bucket }
                    return bucket.take(1, now: now) == 1 ? .granted : .notBefore(bucket.nextToken(now: now))
                })
            channel.giveBack(tokens - result.picks.count, now: now)
            for p in result.picks {
                #expect(p.entry.dueAt <= now)
                #expect(picked.insert(p.entry.id).inserted)
                sends[p.lane.tenant, default: []].append(now)
                all.append(now)
            }
        }
        // Over any window of length w: at most burst + rate * w sends.
        func check(_ times: [Int64], burst: Int, perSecond: Int) {
            for window: Int64 in [1, 100, 1_000, 5_000] {
                var s = 0
                for e in times.indices {
                    while times[e] - times[s] >= window { s += 1 }
                    let allowed = burst + Int((Int64(perSecond) * window + 999) / 1000)
                    #expect(e - s + 1 <= allowed, "window \(window) ms ending at \(times[e])")
                }
            }
        }
        for times in sends.values { check(times, burst: 2, perSecond: 5) }
        check(all, burst: 3, perSecond: 12)
        #expect(!all.isEmpty)
    }
}
