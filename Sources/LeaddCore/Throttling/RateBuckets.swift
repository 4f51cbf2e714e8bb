import LeaddSync

// Token buckets by key: one per tenant (`tenants.*.rate`, shared by every channel, so a tenant
// allowed 1000/min sends at most that many a minute whichever channels they go out on), or one
// per campaign. Buckets are made on first use and rebuilt when a reload changes the rate.

//
// A full bucket is the same as one made anew, so full buckets are dropped when the map has grown
// past a sweep mark, and once a minute while it is large: with a million tenants passing through,
// only those sending lately are held.
public final class RateBuckets: Sendable {
    private struct Map {
        var buckets: [String: TokenBucket] = [:]
        /// Size at which full buckets are next swept out; doubles with what stays, so sweeps stay rare.
        var sweepAt = RateBuckets.firstSweep
        var lastSweep: Int64 = 0
    }

    static let firstSweep = 10_000
    private let map = Locked(Map())

    public init() {}

    /// Takes one token for `key` at `now` if its limit allows; no rate means no limit.
    public func permit(_ key: String, rate: Rate?, burst: Int?, now: Int64) -> HorizonQueue.Permit {
        guard let rate else { return .granted }
        return map.withLock { map in
            // Swept when the map outgrew its mark, and once a minute while it is large.
            let count = map.buckets.count
            if count >= map.sweepAt || (count >= Self.firstSweep && now - map.lastSweep >= 60_000) {
                map.buckets = map.buckets.filter { $0.value.available(now: now) < $0.value.burst }
                map.sweepAt = max(Self.firstSweep, 2 * map.buckets.count)
                map.lastSweep = now
            }
            var bucket = map.buckets[key]
            if bucket == nil || bucket!.rate != rate || (burst != nil && bucket!.burst != burst) {
                bucket = TokenBucket(rate: rate, burst: burst, now: now)
            }
            defer { map.buckets[key] = bucket }
            return bucket!.take(1, now: now) == 1 ? .granted : .notBefore(bucket!.nextToken(now: now))
        }
    }

    /// Tokens `key` has at `now`, without taking any; no rate means no limit.
    public func available(_ key: String, rate: Rate?, burst: Int?, now: Int64) -> Int {
        guard let rate else { return .max }
        return map.withLock { map in
            guard let bucket = map.buckets[key], bucket.rate == rate, burst == nil || bucket.burst == burst else {
                return TokenBucket(rate: rate, burst: burst, now: now).burst
            }
            return bucket.available(now: now)
        }
    }

    /// Returns a token taken for a message that did not go after all.
    public func giveBack(_ key: String, now: Int64) {
        map.withLock { $0.buckets[key]?.giveBack(1, now: now) }
    }

    /// Keys with a bucket, for tests and status.
    public var tracked: Int { map.withLock { $0.buckets.count } }
}
