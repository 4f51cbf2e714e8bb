// A queued message as the scheduler sees it: the lane it waits in and its place in that lane.
// The stores keep the same order: by channel and lane, then due time and id (the SQLite store
// numbers each channel's lanes, see LaneNumbers).

/// Messages of one tenant at one priority on one channel wait in one lane, in due order; those
/// that carry their lead's own time zone wait in a lane per zone, since their window differs.
public struct QueueLane: Hashable, Sendable, CustomStringConvertible {
    public var priority: Priority
    public var tenant: String
    /// The lead's IANA time zone; empty: the tenant's.
    public var zone: String
    /// The campaign the messages belong to; empty: none (sent one by one).
    public var campaign: String

    public init(priority: Priority, tenant: String, zone: String = "", campaign: String = "") {
        self.priority = priority
        self.tenant = tenant
        self.zone = zone
        self.campaign = campaign
    }

    public var description: String {
        "\(tenant)/\(priority)\(zone.isEmpty ? "" : "/" + zone)\(campaign.isEmpty ? "" : "/" + campaign)"
    }

    /// Ring order within a priority class: a tenant's lanes side by side.
    static func ringOrder(_ a: QueueLane, _ b: QueueLane) -> Bool {
        if a.tenant != b.tenant { return a.tenant < b.tenant }
        return a.zone != b.zone ? a.zone < b.zone : a.campaign < b.campaign
    }
}

/// A message's place in its lane: due time first, then id (acceptance order).
public struct QueueEntry: Hashable, Sendable, Comparable {
    public var dueAt: Int64
    public var id: Int64

    public init(dueAt: Int64, id: Int64) {
        self.dueAt = dueAt
        self.id = id
    }

    public static func < (a: QueueEntry, b: QueueEntry) -> Bool {
        a.dueAt != b.dueAt ? a.dueAt < b.dueAt : a.id < b.id
    }
}

/// A row that entered the queue (accepted, retried, deferred or re-queued from dead letters).
public struct QueuedRow: Hashable, Sendable {
    public var channel: String
    public var lane: QueueLane
    public var entry: QueueEntry

    public init(channel: String, lane: QueueLane, entry: QueueEntry) {
        self.channel = channel
        self.lane = lane
        self.entry = entry
    }
}
