// A token bucket, as a value told the time: `rate` refills it continuously up to `burst`, and
// taking n tokens means sending n messages. Counted exactly, in thousandths of a token plus the
// remainder of the division, so neither rounding nor frequent polling ever gains or loses a
// token: the limit holds over any window and slow rates still refill. It is meant to be told a
// monotonic time; told a time earlier than before, it starts counting again from there rather
// than waiting for the old time to come back.

public struct TokenBucket: Sendable, Equatable {
    public let rate: Rate
    public let burst: Int
    private var milliTokens: Int64
    /// Refill not yet worth a milli-token, in units of 1/period milli-tokens.
    private var carry: Int64 = 0
    private var since: Int64

    /// Most tokens a bucket holds, whatever it is asked for (the config's and protocol's bound).
    public static let largestBurst = 1_000_000

    /// A full bucket at `now`. `burst` defaults to one second's worth of the rate (at least 1),
    /// and is never more than `largestBurst`.
    public init(rate: Rate, burst: Int? = nil, now: Int64) {
        self.rate = rate
        let second = min(rate.perSecond.rounded(.down), Double(Self.largestBurst))
        self.burst = min(max(burst ?? Int(second), 1), Self.largestBurst)
        self.milliTokens = Int64(self.burst) * 1000
        self.since = now
    }

    /// The same bucket under a new rate or burst: it keeps the tokens it holds (no more than the
    /// new burst), so changing a limit never hands out a fresh burst.
    public func retuned(rate: Rate, burst: Int?, now: Int64) -> TokenBucket {
        var next = TokenBucket(rate: rate, burst: burst, now: now)
        next.milliTokens = min(current(now: now).0, next.capacity)
        return next
    }

    private var capacity: Int64 { Int64(burst) * 1000 }
    private var period: Int64 { max(rate.per.milliseconds, 1) }
    /// Milli-tokens per `period` milliseconds.
    private var perPeriod: Int64 { Int64(rate.count) * 1000 }

    /// (milli-tokens, carry) at `now`, without changing anything.
    private func current(now: Int64) -> (Int64, Int64) {
        guard now > since, milliTokens < capacity else { return (milliTokens, carry) }
        let elapsed = now - since
        // A long quiet spell fills the bucket; arithmetic that would overflow means the same.
        let (fill, fillOverflow) = period.multipliedReportingOverflow(by: Int64(burst) + 1)
        if !fillOverflow && elapsed >= fill { return (capacity, 0) }
        let (product, productOverflow) = elapsed.multipliedReportingOverflow(by: perPeriod)
        let (numerator, sumOverflow) = product.addingReportingOverflow(carry)
        if productOverflow || sumOverflow { return (capacity, 0) }
        let tokens = milliTokens + numerator / period
        return tokens >= capacity ? (capacity, 0) : (tokens, numerator % period)
    }

    private mutating func advance(to now: Int64) {
        (milliTokens, carry) = current(now: now)
        since = now
    }

    /// Whole tokens available at `now`.
    public func available(now: Int64) -> Int { Int(current(now: now).0 / 1000) }

    /// Takes up to `wanted` tokens at `now`; returns how many were taken.
    public mutating func take(_ wanted: Int, now: Int64) -> Int {
        advance(to: now)
        let taken = min(Int64(max(wanted, 0)), milliTokens / 1000)
        milliTokens -= taken * 1000
        return Int(taken)
    }

    /// Gives back tokens taken but not used (a claim that found fewer messages than it asked for).
    public mutating func giveBack(_ count: Int, now: Int64) {
        advance(to: now)
        milliTokens = min(milliTokens + Int64(max(count, 0)) * 1000, capacity)
        if milliTokens == capacity { carry = 0 }
    }

    /// The earliest time at which a whole token is available.
    public func nextToken(now: Int64) -> Int64 {
        let (tokens, carry) = current(now: now)
        if tokens >= 1000 { return now }
        // Smallest t with (t * perPeriod + carry) / period >= missing: round up.
        let needed = (1000 - tokens) * period - carry
        return now + (needed + perPeriod - 1) / perPeriod
    }
}
