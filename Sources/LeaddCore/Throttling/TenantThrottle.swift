// Each tenant's own rate limit (`tenants.*.rate`), shared by every channel: a tenant allowed
// 1000/min sends at most that many messages a minute whichever channels they go out on.
// Buckets are made on first use and rebuilt when a reload changes the tenant's rate.
import Synchronization

public final class TenantThrottle: Sendable {
    private let buckets = Mutex<[String: TokenBucket]>([:])

    public init() {}

    /// Takes one token for `tenant` at `now` if its limit allows.
    public func permit(_ tenant: String, settings: TenantSettings, now: Int64) -> HorizonQueue.Permit {
        guard let rate = settings.rate else { return .granted }
        return buckets.withLock { buckets in
            var bucket = buckets[tenant]
            if bucket == nil || bucket!.rate != rate || (settings.burst != nil && bucket!.burst != settings.burst) {
                bucket = TokenBucket(rate: rate, burst: settings.burst, now: now)
            }
            defer { buckets[tenant] = bucket }
            return bucket!.take(1, now: now) == 1 ? .granted : .notBefore(bucket!.nextToken(now: now))
        }
    }

    /// Tenants with a bucket, for tests and status.
    public var tracked: Int { buckets.withLock { $0.count } }
}
