// Whether a lane's next message may go now, beyond the channel's own limits: its campaign is
// active, its sending window (the campaign's, else the tenant's, in the lead's zone, else the
// tenant's) is open, and the campaign's and the tenant's buckets both have a token. One shared
// instance serves every channel, so tenant and campaign limits hold across channels.
import Foundation

public final class SendRules: Sendable {
    public let tenants: TenantDirectory
    public let campaigns: CampaignDirectory
    public let suppressions: SuppressionList
    public let senders = SenderDirectory()
    public let tenantBuckets = RateBuckets()
    public let campaignBuckets = RateBuckets()
    public let windows = WindowGate()
    /// Phone numbers read against their numbering plan, by region and text.
    public let numbers: TTLCache<String, Result<String, PhoneNumbers.Failure>>
    /// Each campaign's steps compiled, by campaign id.
    public let templates: TTLCache<String, [StepTemplate]>

    public init(
        tenants: TenantDirectory = TenantDirectory(), campaigns: CampaignDirectory = CampaignDirectory(),
        suppressions: SuppressionList = SuppressionList(), cache: CacheConfig = CacheConfig()
    ) {
        self.tenants = tenants
        self.campaigns = campaigns
        self.suppressions = suppressions
        numbers = TTLCache(ttl: cache.ttl, capacity: cache.maxEntries)
        templates = TTLCache(ttl: cache.ttl, capacity: max(cache.maxEntries / 100, 100))
    }

    /// `text` as an E.164 number, read in `region` when it has no country code.
    public func phoneNumber(_ text: String, region: String?, now: Int64) -> Result<String, PhoneNumbers.Failure> {
        numbers.value(for: (region ?? "") + "\u{0}" + text, now: now) { PhoneNumbers.normalize(text, region: region) }
    }

    /// What `status` shows of the in-memory directories and caches.
    public func cacheStatus() -> [String: (entries: Int, hits: Int?, misses: Int?)] {
        let t = tenants.lookups
        let n = numbers.counts
        let c = templates.counts
        return [
            "tenants": (tenants.count, t.hits, t.misses), "campaigns": (campaigns.count, nil, nil),
            "suppressions": (suppressions.count, nil, nil), "numbers": (n.entries, n.hits, n.misses),
            "templates": (c.entries, c.hits, c.misses),
        ]
    }

    /// How long a lane of a paused campaign is left alone before it is asked about again.
    static let pausedRecheck: Int64 = 1_000

    public func settings(for tenant: String, _ config: ConfigHolder) -> TenantSettings {
        tenants.settings(for: tenant, config: config.current, generation: config.generation)
    }

    /// nil when a message of this tenant, campaign and lead zone may go at `now` as far as
    /// windows are concerned; else when its window next opens.
    public func windowClosedUntil(
        tenant: TenantSettings, campaign: Campaign?, zone: String, config: LeaddConfig, now: Int64
    ) -> Int64? {
        let schedule = campaign?.schedule ?? tenant.schedule
        let zoneName = zone.isEmpty ? (tenant.timeZone?.identifier ?? "") : zone
        return windows.closedUntil(schedule: schedule, zone: zoneName, config: config, now: now)
    }

    /// Asked once per message picked; takes the campaign's and the tenant's tokens when granted.
    /// `now` is the wall time (windows, due times), `tick` the monotonic one the buckets run on.
    public func permit(
        _ lane: QueueLane, config: LeaddConfig, generation: Int, now: Int64, tick: Int64? = nil
    ) -> HorizonQueue.Permit {
        let tick = tick ?? now
        let tenant = tenants.settings(for: lane.tenant, config: config, generation: generation)
        var campaign: Campaign?
        if !lane.campaign.isEmpty {
            // A paused or cancelled campaign's rows have left the queue; what is still held in
            // memory waits (and is dropped when the dispatcher hears of the change).
            guard let c = campaigns.campaign(lane.campaign), c.state == .active else {
                return .notBefore(now + Self.pausedRecheck)
            }
            campaign = c
        }
        if let opening = windowClosedUntil(
            tenant: tenant, campaign: campaign, zone: lane.zone, config: config, now: now)
        {
            return .notBefore(opening)
        }
        if let campaign, campaign.rate != nil {
            let answer = campaignBuckets.permit(campaign.id, rate: campaign.rate, burst: nil, now: now, tick: tick)
            guard answer == .granted else { return answer }
        }
        let answer = tenantBuckets.permit(lane.tenant, rate: tenant.rate, burst: tenant.burst, now: now, tick: tick)
        if answer != .granted, let campaign, campaign.rate != nil { campaignBuckets.giveBack(campaign.id, now: tick) }
        return answer
    }

    /// True when a message of `lane` is held to a tenant's or campaign's rate.
    public func isLimited(_ lane: QueueLane, _ config: ConfigHolder) -> Bool {
        if settings(for: lane.tenant, config).rate != nil { return true }
        return !lane.campaign.isEmpty && campaigns.campaign(lane.campaign)?.rate != nil
    }

    /// Returns the tokens `permit` took for a message of `lane` that did not go after all.
    public func giveBack(_ lane: QueueLane, tick: Int64) {
        if !lane.campaign.isEmpty, campaigns.campaign(lane.campaign)?.rate != nil {
            campaignBuckets.giveBack(lane.campaign, now: tick)
        }
        tenantBuckets.giveBack(lane.tenant, now: tick)
    }
}
