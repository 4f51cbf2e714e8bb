// The soon-due part of one channel's queue, held in memory, and the choice of what goes next.
//
// The store keeps the queue in lanes (priority, tenant, lead zone, campaign), each in due order. The horizon holds,
// per lane, at most `laneCapacity` entries due within `horizon` of now, refilled from the store
// when it runs low, so memory stays flat however many rows are queued. Rows that enter the queue
// are announced after their commit (`noted`) and join the horizon directly when their lane is
// fully loaded; otherwise the lane remembers that the store holds more and reads it later.
//
// Choosing (`pick`): priority classes take turns by stride scheduling with weights 81:9:1
// (urgent:normal:bulk), so urgent goes first but normal and bulk always get a share while they
// have messages due; within a class, tenants take turns by deficit round robin weighted by
// their configured weight, so a tenant with a million due messages does not delay one with ten.
// A value with no clock or I/O of its own: the dispatcher tells it the time and does the reads.

public struct HorizonQueue: Sendable {
    public struct Settings: Sendable, Equatable {
        /// How far ahead of now entries are loaded.
        public var horizon: Int64 = 2_000
        /// Most entries held per lane.
        public var laneCapacity = 512
        /// Most entries held in all, so memory stays bounded however many lanes are due.
        public var totalCapacity = 200_000

        public init(horizon: Int64 = 2_000, laneCapacity: Int = 512, totalCapacity: Int = 200_000) {
            self.horizon = horizon
            self.laneCapacity = laneCapacity
            self.totalCapacity = totalCapacity
        }

        /// Enough per lane for the channel's batches in flight and the next ones.
        public init(channel: ChannelConfig?) {
            let batches = (channel?.batchSize ?? 100) * (channel?.concurrency ?? 1)
            self.init(laneCapacity: max(512, 2 * batches))
        }
    }

    /// A read the dispatcher should make: the lane's entries after `after`, due by `dueBy`.
    public struct Refill: Sendable, Equatable {
        public var lane: QueueLane
        public var after: QueueEntry?
        public var dueBy: Int64
        public var limit: Int
    }

    struct Lane {
        /// Loaded entries in lane order; `head` is the first not yet taken.
        var entries: [QueueEntry] = []
        var head = 0
        /// Every queued row of the lane up to this one is in `entries` (or was taken).
        var loadedThrough: QueueEntry?
        /// No earlier than the due time of the first row after `loadedThrough`; nil: none.
        var unloadedFrom: Int64? = .min
        var refilling = false
        /// Rows announced while a refill was being read, applied when it lands.
        var announcedDuringRefill: [QueueEntry] = []
        /// A reopening that came while a refill was being read, applied when it lands.
        var reopenedDuringRefill: Int64?

        var count: Int { entries.count - head }

        /// The due time of the first entry due after `time`, found by halving (entries are in order).
        func firstDue(after time: Int64) -> Int64? {
            var low = head
            var high = entries.count
            while low < high {
                let mid = (low + high) / 2
                if entries[mid].dueAt <= time { low = mid + 1 } else { high = mid }
            }
            return low < entries.count ? entries[low].dueAt : nil
        }
        var first: QueueEntry? { head < entries.count ? entries[head] : nil }

        mutating func popFirst() -> QueueEntry {
            let entry = entries[head]
            head += 1
            if head > 64 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            return entry
        }

        /// Inserts in order unless present (announcements may repeat what a refill read).
        mutating func insert(_ entry: QueueEntry) {
            var low = head
            var high = entries.count
            while low < high {
                let mid = (low + high) / 2
                if entries[mid] < entry { low = mid + 1 } else { high = mid }
            }
            if low < entries.count && entries[low] == entry { return }
            entries.insert(entry, at: low)
        }
    }

    /// Stride per class: a class is chosen again after `stride` turns of virtual time.
    static let classStride: [Int64] = [1, 9, 81]

    public let channel: String
    public var settings: Settings
    var lanes: [QueueLane: Lane] = [:]
    private var classPass: [Int64] = [0, 0, 0]
    private var virtualTime: Int64 = 0
    /// The tenant served last in each class, so turns continue where they left off.
    private var lastServed: [String?] = [nil, nil, nil]
    /// Deficit round robin credit per class and tenant, in messages.
    private var tenantDeficit: [[String: Int]] = [[:], [:], [:]]
    /// Which of a tenant's lanes goes next.
    private var laneTurn: [String: Int] = [:]

    public init(channel: String, settings: Settings = Settings()) {
        self.channel = channel
        self.settings = settings
    }

    /// Starts from the lanes the store holds; their entries are read by the refills that follow.
    /// A lane already made by an announcement that came first (a commit answered just before the
    /// start, announced late) is read from its start too: the store may hold earlier rows of it.
    public mutating func start(lanes known: [QueueLane]) {
        for lane in known { lanes[lane] = Lane() }
    }

    /// Rows that entered the queue (committed).
    public mutating func noted(_ rows: [QueuedRow], now: Int64) {
        for row in rows { noted(row.entry, in: row.lane, now: now) }
    }

    mutating func noted(_ entry: QueueEntry, in key: QueueLane, now: Int64) {
        var lane = lanes[key] ?? Lane(unloadedFrom: nil)
        defer { lanes[key] = lane }
        if lane.refilling {
            lane.announcedDuringRefill.append(entry)
            return
        }
        place(entry, in: &lane, now: now)
    }

    private func place(_ entry: QueueEntry, in lane: inout Lane, now: Int64) {
        if let through = lane.loadedThrough, entry <= through {
            lane.insert(entry)
        } else if lane.unloadedFrom == nil && entry.dueAt <= now + settings.horizon
            && lane.count < settings.laneCapacity
        {
            // The lane is fully loaded, so this row is the next one after it.
            lane.entries.append(entry)
            lane.loadedThrough = entry
        } else {
            lane.unloadedFrom = min(lane.unloadedFrom ?? .max, entry.dueAt)
        }
    }

    /// The store may hold rows of `key` from `due` on that were never announced here (another
    /// node added them): what is held from there on is dropped and read again.
    public mutating func reopen(_ key: QueueLane, from due: Int64) {
        var lane = lanes[key] ?? Lane()
        defer { lanes[key] = lane }
        if lane.refilling {
            lane.reopenedDuringRefill = min(lane.reopenedDuringRefill ?? .max, due)
            return
        }
        Self.reopen(&lane, from: due)
    }

    private static func reopen(_ lane: inout Lane, from due: Int64) {
        if let through = lane.loadedThrough, through.dueAt >= due {
            var keep = lane.head
            while keep < lane.entries.count && lane.entries[keep].dueAt < due { keep += 1 }
            lane.entries.removeSubrange(keep...)
            lane.loadedThrough = due == .min ? nil : QueueEntry(dueAt: due - 1, id: .max)
            if lane.loadedThrough == nil {
                lane.entries = []
                lane.head = 0
            }
        }
        lane.unloadedFrom = min(lane.unloadedFrom ?? .max, due)
    }

    /// The reads to make now; each lane is marked as being read until `refilled` or `refillFailed`.
    public mutating func refills(now: Int64) -> [Refill] {
        var reads: [Refill] = []
        let dueBy = now + settings.horizon
        var budget = settings.totalCapacity - held
        for (key, lane) in lanes where !lane.refilling && budget > 0 {
            guard let from = lane.unloadedFrom, from <= dueBy, lane.count * 2 <= settings.laneCapacity else {
                continue
            }
            let limit = min(settings.laneCapacity - lane.count, budget)
            budget -= limit
            reads.append(Refill(lane: key, after: lane.loadedThrough, dueBy: dueBy, limit: limit))
            lanes[key]!.refilling = true
        }
        return reads
    }

    /// Applies a read: `entries` are the lane's rows after `read.after` due by `read.dueBy`;
    /// `next` is the due time of the first row after them, when fewer than the limit came back.
    public mutating func refilled(_ read: Refill, entries: [QueueEntry], next: Int64?, now: Int64) {
        guard var lane = lanes[read.lane] else { return }
        lane.refilling = false
        for entry in entries where lane.loadedThrough.map({ entry > $0 }) ?? true {
            lane.entries.append(entry)
            lane.loadedThrough = entry
        }
        lane.unloadedFrom = entries.count >= read.limit ? (entries.last?.dueAt ?? .min) : next
        let announced = lane.announcedDuringRefill
        lane.announcedDuringRefill = []
        for entry in announced { place(entry, in: &lane, now: now) }
        if let due = lane.reopenedDuringRefill {
            lane.reopenedDuringRefill = nil
            Self.reopen(&lane, from: due)
        }
        lanes[read.lane] = lane
        forgetIfIdle(read.lane)
    }

    /// A read that failed: the lane keeps what it knew and is read again later.
    public mutating func refillFailed(_ read: Refill, now: Int64) {
        guard var lane = lanes[read.lane] else { return }
        lane.refilling = false
        let announced = lane.announcedDuringRefill
        lane.announcedDuringRefill = []
        for entry in announced { place(entry, in: &lane, now: now) }
        if let due = lane.reopenedDuringRefill {
            lane.reopenedDuringRefill = nil
            Self.reopen(&lane, from: due)
        }
        lanes[read.lane] = lane
    }

    /// Drops every lane of a campaign.
    public mutating func forget(campaign: String) {
        for key in lanes.keys where key.campaign == campaign { lanes[key] = nil }
    }

    /// Puts back picks that could not be claimed (the store failed); they are still queued there.
    public mutating func putBack(_ rows: [QueuedRow]) {
        for row in rows {
            // A lane forgotten since the pick was empty and fully loaded: the pick is all it has.
            var lane = lanes[row.lane] ?? Lane(unloadedFrom: nil)
            if let through = lane.loadedThrough, row.entry <= through {
                lane.insert(row.entry)
            } else if lane.unloadedFrom == nil && !lane.refilling {
                lane.insert(row.entry)
                lane.loadedThrough = row.entry
            } else {
                lane.unloadedFrom = min(lane.unloadedFrom ?? .max, row.entry.dueAt)
            }
            lanes[row.lane] = lane
        }
    }

    private mutating func forgetIfIdle(_ key: QueueLane) {
        if let lane = lanes[key], lane.count == 0, lane.unloadedFrom == nil, !lane.refilling {
            lanes[key] = nil
        }
    }

    /// What limits a tenant besides the channel: answers whether one more of its messages may go
    /// now (taking a token if so), or when it may next.
    public enum Permit: Equatable {
        case granted
        case notBefore(Int64)
    }

    /// Takes up to `limit` due entries, in turn order. `permit` is asked once per message, for
    /// the lane's sending window and its tenant's and campaign's limits. Returns the picks and,
    /// when a lane was held back, the earliest time it may send again.
    public mutating func pick(
        now: Int64, limit: Int, weight: (String) -> Int, permit: (QueueLane) -> Permit
    ) -> (picks: [QueuedRow], blockedUntil: Int64?) {
        var picks: [QueuedRow] = []
        var blockedUntil: Int64?
        // Per class, the tenants with an entry due, each with its lanes that have one, in a
        // stable order so that turns rotate.
        var ready: [[(tenant: String, lanes: [QueueLane])]] = [[], [], []]
        var byTenant: [[String: [QueueLane]]] = [[:], [:], [:]]
        for (key, lane) in lanes where (lane.first?.dueAt ?? .max) <= now {
            byTenant[key.priority.rawValue][key.tenant, default: []].append(key)
        }
        var position = [0, 0, 0]
        for c in 0..<3 where !byTenant[c].isEmpty {
            ready[c] = byTenant[c].map { ($0.key, $0.value.sorted(by: QueueLane.ringOrder)) }.sorted {
                $0.tenant < $1.tenant
            }
            // A class that had nothing due earns no credit for the time it waited.
            classPass[c] = max(classPass[c], virtualTime)
            if let last = lastServed[c] {
                let resume = (tenantDeficit[c][last] ?? 0) > 0
                position[c] = ready[c].firstIndex { resume ? $0.tenant >= last : $0.tenant > last } ?? 0
            }
        }
        while picks.count < limit {
            var chosen = -1
            for c in 0..<3 where !ready[c].isEmpty && (chosen < 0 || classPass[c] < classPass[chosen]) { chosen = c }
            guard chosen >= 0 else { break }
            // Deficit round robin between tenants: a tenant's turn earns it its weight in
            // messages; the turn passes when they are spent or the tenant has nothing more that
            // may go. Within a tenant its lanes (campaigns, lead zones) take turns one by one.
            var taken = false
            while !taken && !ready[chosen].isEmpty {
                if position[chosen] >= ready[chosen].count { position[chosen] = 0 }
                let tenant = ready[chosen][position[chosen]].tenant
                var deficit = tenantDeficit[chosen][tenant] ?? 0
                if deficit <= 0 { deficit = max(weight(tenant), 1) }
                var tenantLanes = ready[chosen][position[chosen]].lanes
                let start = laneTurn[tenant, default: 0]
                var served = false
                for step in 0..<tenantLanes.count {
                    let index = (start + step) % tenantLanes.count
                    let key = tenantLanes[index]
                    var lane = lanes[key]!
                    guard let entry = lane.first, entry.dueAt <= now else {
                        tenantLanes[index] = key  // emptied: dropped below
                        continue
                    }
                    switch permit(key) {
                    case .granted:
                        _ = lane.popFirst()
                        lanes[key] = lane
                        picks.append(QueuedRow(channel: channel, lane: key, entry: entry))
                        laneTurn[tenant] = index + 1
                        served = true
                    case .notBefore(let time):
                        blockedUntil = min(blockedUntil ?? .max, time)
                    }
                    if served { break }
                }
                // Keep only the lanes that still have something due and were not held back.
                tenantLanes.removeAll { key in
                    guard let first = lanes[key]?.first, first.dueAt <= now else { return true }
                    return !served
                }
                if served {
                    deficit -= 1
                    lastServed[chosen] = tenant
                    taken = true
                }
                tenantDeficit[chosen][tenant] = deficit
                if tenantLanes.isEmpty || !served {
                    ready[chosen].remove(at: position[chosen])
                    if !served || tenantLanes.isEmpty { tenantDeficit[chosen][tenant] = nil }
                } else {
                    ready[chosen][position[chosen]].lanes = tenantLanes
                    if deficit <= 0 { position[chosen] += 1 }
                }
            }
            if taken {
                virtualTime = classPass[chosen]
                classPass[chosen] += Self.classStride[chosen]
            }
        }
        for key in Set(picks.map(\.lane)) { forgetIfIdle(key) }
        return (picks, blockedUntil)
    }

    /// When something next needs doing besides the entries already due at `now`, which a pick
    /// that took none of them has found held back (by a window, a limit or a breaker) and which
    /// its `blockedUntil` covers: the earliest entry due after `now`, or a lane's unloaded rows
    /// coming within the horizon while there is room to read them. Waking for the held-back
    /// entries instead would go round without sleeping until they may go.
    public func nextWake(after now: Int64) -> Int64? {
        var next: Int64?
        let room = held < settings.totalCapacity
        for lane in lanes.values {
            if let due = lane.firstDue(after: now) { next = min(next ?? .max, due) }
            if room, let from = lane.unloadedFrom, !lane.refilling, lane.count * 2 <= settings.laneCapacity {
                next = min(next ?? .max, from == .min ? .min : from - settings.horizon)
            }
        }
        return next
    }

    /// Up to `limit` held entries due after `after` and by `through`, earliest first, without
    /// taking them (`skip` leaves out those already being looked after).
    public func upcoming(after: Int64, through: Int64, limit: Int, skip: (Int64) -> Bool) -> [QueuedRow] {
        var found: [QueuedRow] = []
        for (key, lane) in lanes {
            var i = lane.head
            while i < lane.entries.count, lane.entries[i].dueAt <= through {
                let entry = lane.entries[i]
                if entry.dueAt > after && !skip(entry.id) {
                    found.append(QueuedRow(channel: channel, lane: key, entry: entry))
                }
                i += 1
            }
        }
        guard found.count > limit else { return found.sorted { $0.entry < $1.entry } }
        return Array(found.sorted { $0.entry < $1.entry }.prefix(limit))
    }

    /// Entries held in memory.
    public var held: Int { lanes.values.reduce(0) { $0 + $1.count } }

    /// Entries held that are due at `now`.
    public func due(now: Int64) -> Int {
        var n = 0
        for lane in lanes.values {
            for i in lane.head..<lane.entries.count {
                if lane.entries[i].dueAt > now { break }
                n += 1
            }
        }
        return n
    }
}
