import LeaddSync

// Token buckets by key: one per tenant (`tenants.*.rate`, shared by every channel, so a tenant
// allowed 1000/min sends at most that many a minute whichever channels they go out on), or one
// per campaign. Buckets are made on first use and rebuilt when a reload changes the rate.

public final class RateBuckets: Sendable {
    private let buckets = Locked<[String: TokenBucket]>([:])

    public init() {}

    /// Takes one token for `key` at `now` if its limit allows; no rate means no limit.
    public func permit(_ key: String, rate: Rate?, burst: Int?, now: Int64) -> HorizonQueue.Permit {
        guard let rate else { return .granted }
        return buckets.withLock { buckets in
            var bucket = buckets[key]
            if bucket == nil || bucket!.rate != rate || (burst != nil && bucket!.burst != burst) {
                bucket = TokenBucket(rate: rate, burst: burst, now: now)
            }
            defer { buckets[key] = bucket }
            return bucket!.take(1, now: now) == 1 ? .granted : .notBefore(bucket!.nextToken(now: now))
        }
    }

    /// Tokens `key` has at `now`, without taking any; no rate means no limit.
    public func available(_ key: String, rate: Rate?, burst: Int?, now: Int64) -> Int {
        guard let rate else { return .max }
        return buckets.withLock { buckets in
            guard let bucket = buckets[key], bucket.rate == rate, burst == nil || bucket.burst == burst else {
                return TokenBucket(rate: rate, burst: burst, now: now).burst
            }
            return bucket.available(now: now)
        }
    }

    /// Returns a token taken for a message that did not go after all.
    public func giveBack(_ key: String, now: Int64) {
        buckets.withLock { $0[key]?.giveBack(1, now: now) }
    }

    /// Keys with a bucket, for tests and status.
    public var tracked: Int { buckets.withLock { $0.count } }
}
