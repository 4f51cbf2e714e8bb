import LeaddSync

// Token buckets by key: one per tenant (`tenants.*.rate`, shared by every channel, so a tenant
// allowed 1000/min sends at most that many a minute whichever channels they go out on), or one
// per campaign. Buckets are made on first use and keep their tokens when a reload changes the
// rate. They run on `tick`, a monotonic time (a step of the wall clock neither stops nor frees
// sending); their answers are wall times, as the scheduler's.

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

    /// Takes one token for `key` at `now` (wall time; `tick`, monotonic, defaults to it) if its
    /// limit allows; no rate means no limit.
    public func permit(_ key: String, rate: Rate?, burst: Int?, now: Int64, tick: Int64? = nil) -> HorizonQueue.Permit {
        guard let rate else { return .granted }
        let tick = tick ?? now
        return map.withLock { map in
            // Swept when the map outgrew its mark, and once a minute while it is large.
            let count = map.buckets.count
            if count >= map.sweepAt || (count >= Self.firstSweep && tick - map.lastSweep >= 60_000) {
                map.buckets = map.buckets.filter { $0.value.available(now: tick) < $0.value.burst }
                map.sweepAt = max(Self.firstSweep, 2 * map.buckets.count)
                map.lastSweep = tick
            }
            var bucket = Self.tuned(map.buckets[key], rate: rate, burst: burst, tick: tick)
            defer { map.buckets[key] = bucket }
            return bucket.take(1, now: tick) == 1 ? .granted : .notBefore(now + bucket.nextToken(now: tick) - tick)
        }
    }

    /// `bucket` as the limit is now: made full when new, its tokens kept when the limit changed.
    private static func tuned(_ bucket: TokenBucket?, rate: Rate, burst: Int?, tick: Int64) -> TokenBucket {
        guard let bucket else { return TokenBucket(rate: rate, burst: burst, now: tick) }
        if bucket.rate != rate || (burst != nil && bucket.burst != burst) {
            return bucket.retuned(rate: rate, burst: burst, now: tick)
        }
        return bucket
    }

    /// Tokens `key` has at `tick`, without taking any; no rate means no limit.
    public func available(_ key: String, rate: Rate?, burst: Int?, now tick: Int64) -> Int {
        guard let rate else { return .max }
        return map.withLock { map in
            Self.tuned(map.buckets[key], rate: rate, burst: burst, tick: tick).available(now: tick)
        }
    }

    /// Returns a token taken for a message that did not go after all.
    public func giveBack(_ key: String, now tick: Int64) {
        map.withLock { $0.buckets[key]?.giveBack(1, now: tick) }
    }

    /// Keys with a bucket, for tests and status.
    public var tracked: Int { map.withLock { $0.buckets.count } }
}
