import Testing

@testable import LeaddCore

@Suite struct TokenBucketTests {
    let tenPerSecond = Rate(count: 10, per: .seconds(1))

    /// The largest and slowest rates a config or request may give: no arithmetic overflows,
    /// whatever time passes, and the bucket still counts right.
    @Test func extremeRatesNeitherTrapNorMiscount() {
        let fastest = Rate(count: Rate.largestCount, per: .milliseconds(1))
        var fast = TokenBucket(rate: fastest, now: 0)
        #expect(fast.burst == TokenBucket.largestBurst)
        #expect(fast.take(.max, now: 0) == TokenBucket.largestBurst)
        #expect(fast.take(.max, now: 1) == TokenBucket.largestBurst)
        #expect(fast.take(.max, now: Int64.max / 2) == TokenBucket.largestBurst)
        let slowest = Rate(count: 1, per: Rate.longestPeriod)
        var slow = TokenBucket(rate: slowest, burst: TokenBucket.largestBurst, now: 0)
        #expect(slow.take(.max, now: 0) == TokenBucket.largestBurst)
        #expect(slow.take(1, now: Rate.longestPeriod.milliseconds - 1) == 0)
        #expect(slow.take(1, now: Rate.longestPeriod.milliseconds) == 1)
        #expect(slow.take(.max, now: Int64.max / 2) == TokenBucket.largestBurst)
        #expect(slow.nextToken(now: Int64.max / 2) == Int64.max / 2 + Rate.longestPeriod.milliseconds)
    }

    @Test func startsFullAndRefillsAtTheRate() {
        var b = TokenBucket(rate: tenPerSecond, burst: 5, now: 0)
        #expect(b.take(100, now: 0) == 5)
        #expect(b.take(1, now: 0) == 0)
        #expect(b.nextToken(now: 0) == 100)
        #expect(b.take(1, now: 99) == 0)
        #expect(b.take(1, now: 100) == 1)
        #expect(b.take(10, now: 350) == 2)
        // Never more than the burst, however long it waited.
        #expect(b.available(now: 1_000_000) == 5)
    }

    @Test func slowRatesRefillSmoothly() {
        var b = TokenBucket(rate: Rate(count: 10, per: .seconds(60)), burst: 1, now: 0)
        #expect(b.take(1, now: 0) == 1)
        #expect(b.nextToken(now: 0) == 6_000)
        #expect(b.take(1, now: 5_999) == 0)
        #expect(b.take(1, now: 6_000) == 1)
    }

    @Test func tokensGivenBackCanBeTakenAgain() {
        var b = TokenBucket(rate: tenPerSecond, burst: 5, now: 0)
        #expect(b.take(5, now: 0) == 5)
        b.giveBack(3, now: 0)
        #expect(b.take(5, now: 0) == 3)
    }

    /// A clock that steps back (told an earlier time than before) must not stop the refills until
    /// the old time comes round again, nor hand out tokens for the step.
    @Test func aStepBackInTimeNeitherFreezesNorFillsTheBucket() {
        var b = TokenBucket(rate: tenPerSecond, burst: 5, now: 3_600_000)
        #expect(b.take(5, now: 3_600_000) == 5)
        #expect(b.take(1, now: 1_000) == 0)
        #expect(b.nextToken(now: 1_000) == 1_100)
        #expect(b.take(1, now: 1_100) == 1)
        #expect(b.take(10, now: 1_300) == 2)
    }

    @Test func theDefaultBurstIsOneSecondOfTheRate() {
        #expect(TokenBucket(rate: Rate(count: 80, per: .seconds(1)), now: 0).burst == 80)
        #expect(TokenBucket(rate: Rate(count: 1, per: .seconds(60)), now: 0).burst == 1)
    }

    /// Property: whatever the pattern of requests, no window of any length sees more than
    /// burst + rate x length sends.
    @Test(arguments: [1 as UInt64, 2, 3, 4, 5])
    func noWindowEverExceedsTheLimit(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let rate = Rate(
            count: Int.random(in: 1...500, using: &random),
            per: .milliseconds(Int64.random(in: 100...5_000, using: &random)))
        let burst = Int.random(in: 1...50, using: &random)
        var b = TokenBucket(rate: rate, burst: burst, now: 0)
        var now: Int64 = 0
        var sends: [(Int64, Int)] = []
        for _ in 0..<3_000 {
            now += Int64.random(in: 0...40, using: &random)
            let taken = b.take(Int.random(in: 0...20, using: &random), now: now)
            // Like a claim that found fewer due messages than it had tokens for.
            let unused = Bool.random(using: &random) && taken > 0 ? Int.random(in: 0...taken, using: &random) : 0
            if unused > 0 { b.giveBack(unused, now: now) }
            if taken - unused > 0 { sends.append((now, taken - unused)) }
        }
        for i in sends.indices {
            var total = 0
            for j in i..<sends.count {
                total += sends[j].1
                let window = Double(sends[j].0 - sends[i].0)
                let allowed = Double(burst) + Double(rate.count) * window / Double(rate.per.milliseconds)
                #expect(Double(total) <= allowed + 1e-9, "seed \(seed): \(total) in \(window) ms")
                if Double(total) > allowed + 1e-9 { return }
            }
        }
    }
}

@Suite struct RateBucketsTests {
    @Test func eachKeyHasItsOwnBucketAndNoRateMeansNoLimit() {
        let buckets = RateBuckets()
        var rate = Rate(count: 60, per: .seconds(60))
        #expect(buckets.permit("a", rate: rate, burst: 2, now: 0) == .granted)
        #expect(buckets.permit("a", rate: rate, burst: 2, now: 0) == .granted)
        #expect(buckets.permit("a", rate: rate, burst: 2, now: 0) == .notBefore(1_000))
        #expect(buckets.permit("b", rate: rate, burst: 2, now: 0) == .granted)
        for _ in 0..<100 { #expect(buckets.permit("c", rate: nil, burst: nil, now: 0) == .granted) }
        #expect(buckets.tracked == 2)
        // A token given back can be taken again.
        buckets.giveBack("a", now: 0)
        #expect(buckets.permit("a", rate: rate, burst: 2, now: 0) == .granted)
        // A reload that changes the rate keeps the tokens held (none): no fresh burst, the new
        // rate's first token comes 100 ms on.
        rate = Rate(count: 10, per: .seconds(1))
        #expect(buckets.permit("a", rate: rate, burst: 2, now: 0) == .notBefore(100))
        #expect(buckets.permit("a", rate: rate, burst: 5, now: 100) == .granted)
        #expect(buckets.permit("a", rate: rate, burst: 5, now: 100) == .notBefore(200))
    }

    /// The buckets run on the monotonic `tick`; their answers are wall times.
    @Test func bucketsRunOnTheTickAndAnswerInWallTime() {
        let buckets = RateBuckets()
        let rate = Rate(count: 10, per: .seconds(1))
        #expect(buckets.permit("a", rate: rate, burst: 1, now: 5_000_000, tick: 0) == .granted)
        // The wall clock stepped back an hour: the bucket, on the tick, refills as before.
        #expect(buckets.permit("a", rate: rate, burst: 1, now: 1_400_000, tick: 50) == .notBefore(1_400_050))
        #expect(buckets.permit("a", rate: rate, burst: 1, now: 1_400_050, tick: 100) == .granted)
    }

    /// Tenants that sent once long ago hold no memory: full buckets are swept out, and a tenant
    /// still short of tokens keeps its count.
    @Test func idleBucketsAreDroppedAndBusyOnesKept() {
        let buckets = RateBuckets()
        let rate = Rate(count: 1, per: .seconds(60))
        #expect(buckets.permit("busy", rate: rate, burst: 1, now: 0) == .granted)
        for n in 0..<50_000 { _ = buckets.permit("t\(n)", rate: rate, burst: 1, now: 0) }
        #expect(buckets.tracked > 10_000)
        // A minute on, everyone's bucket is full again, except the one that just sent.
        #expect(buckets.permit("busy", rate: rate, burst: 1, now: 60_000) == .granted)
        _ = buckets.permit("late", rate: rate, burst: 1, now: 60_001)
        #expect(buckets.tracked <= 2, "\(buckets.tracked) buckets held")
        #expect(buckets.permit("busy", rate: rate, burst: 1, now: 60_002) == .notBefore(120_000))
    }
}
