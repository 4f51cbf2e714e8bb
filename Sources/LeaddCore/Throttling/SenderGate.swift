// Which of a tenant's senders a message goes out through, and whether any may send now: each
// sender has its own token bucket, concurrency and circuit breaker, so one sender that is
// throttled, busy or suspended by its provider holds back only the tenants bound to it. Among a
// tenant's usable senders the choice rotates (round robin), skipping those that may not send.
// A value told the time (the wall time, and a monotonic `tick` its buckets run on); the
// dispatcher owns one per channel.

public struct SenderGate: Sendable {
    public struct Slot: Sendable {
        public var sender: Sender
        public var bucket: TokenBucket?
        public var breaker: CircuitBreaker
        /// Plugin calls in flight.
        public var inFlight = 0
        /// False while the sender's plugin instance could not be started.
        public var ready = true
    }

    public enum Choice: Sendable, Equatable {
        /// Send through this sender (a token was taken).
        case sender(String)
        /// None of the tenant's senders on this channel may send before this time.
        case notBefore(Int64)
        /// The tenant has no sender on this channel: the channel's own settings apply.
        case channelDefault
    }

    public private(set) var slots: [String: Slot] = [:]
    private var turn: [String: Int] = [:]
    /// Messages given to each sender in the pick being made.
    private var picked: [String: Int] = [:]

    public init() {}

    public var isEmpty: Bool { slots.isEmpty }

    /// Takes in the channel's senders as they are now, keeping each one's bucket (with the
    /// tokens it holds, when its limits changed), breaker and calls in flight.
    public mutating func update(_ senders: [Sender], breaker config: BreakerConfig, now: Int64, tick: Int64? = nil) {
        var next: [String: Slot] = [:]
        for sender in senders {
            if var slot = slots[sender.id] {
                if slot.sender.rate != sender.rate || slot.sender.burst != sender.burst {
                    slot.bucket = sender.rate.flatMap { rate in
                        slot.bucket?.retuned(rate: rate, burst: sender.burst, now: tick ?? now)
                    }
                }
                slot.sender = sender
                slot.breaker.config = config
                next[sender.id] = slot
            } else {
                next[sender.id] = Slot(sender: sender, breaker: CircuitBreaker(config: config, now: now))
            }
        }
        slots = next
    }

    public mutating func setReady(_ id: String, _ ready: Bool) { slots[id]?.ready = ready }

    /// Chooses among `candidates` (sender ids of any channel; those not on this one are ignored)
    /// for one message, taking a token from the chosen sender's bucket.
    public mutating func choose(among candidates: [String], key: String, now: Int64, tick: Int64? = nil) -> Choice {
        let tick = tick ?? now
        let mine = candidates.filter { slots[$0] != nil }
        guard !mine.isEmpty else { return .channelDefault }
        let start = turn[key, default: 0]
        var earliest = Int64.max
        for step in 0..<mine.count {
            let id = mine[(start + step) % mine.count]
            var slot = slots[id]!
            let already = picked[id, default: 0]
            guard slot.ready else {
                earliest = min(earliest, now + 1_000)
                continue
            }
            switch slot.breaker.permission(now: now) {
            case .wait(let until):
                slots[id] = slot
                earliest = min(earliest, until)
                continue
            case .send(let limit):
                if let limit, already >= limit {
                    slots[id] = slot
                    earliest = min(earliest, now + 100)
                    continue
                }
            }
            // A sender already in this pick shares that call; otherwise it needs a free slot.
            if already == 0 && slot.inFlight >= slot.sender.concurrency {
                slots[id] = slot
                earliest = min(earliest, now + 10)
                continue
            }
            if let rate = slot.sender.rate {
                if slot.bucket == nil { slot.bucket = TokenBucket(rate: rate, burst: slot.sender.burst, now: tick) }
                guard slot.bucket!.take(1, now: tick) == 1 else {
                    earliest = min(earliest, now + slot.bucket!.nextToken(now: tick) - tick)
                    slots[id] = slot
                    continue
                }
            }
            slots[id] = slot
            picked[id] = already + 1
            turn[key] = (start + step + 1) % mine.count
            return .sender(id)
        }
        return .notBefore(earliest)
    }

    /// Undoes a choice for a message that did not go after all (another limit held it back).
    public mutating func giveBack(_ id: String, now tick: Int64) {
        slots[id]?.bucket?.giveBack(1, now: tick)
        if let n = picked[id] { picked[id] = n > 1 ? n - 1 : nil }
    }

    /// Ends a pick: each sender given messages now has one more call in flight. Returns them.
    public mutating func finishPick() -> [String] {
        let used = Array(picked.keys)
        for id in used { slots[id]?.inFlight += 1 }
        picked = [:]
        return used
    }

    /// Notes that `count` messages were claimed for the sender's call (probes, when half-open);
    /// returns the breaker's epoch, which the call's results carry back.
    @discardableResult
    public mutating func sent(_ id: String, _ count: Int) -> Int? { slots[id]?.breaker.sent(count) }

    /// Notes that a sender's call came back (or never went): frees its slot and records the
    /// results in its breaker, unless they belong to an earlier epoch of it (a call made before it
    /// opened says nothing of the provider now); `unsent` of the messages claimed for it were held
    /// back before the call; `waitUntil` pauses it when the provider asked to be left alone.
    /// Returns the breaker's new state when it changed.
    public mutating func finished(
        _ id: String, calls: Int, failures: Int, unsent: Int = 0, now: Int64, waitUntil: Int64? = nil,
        cause: String? = nil, epoch: Int? = nil
    ) -> CircuitBreaker.State? {
        guard var slot = slots[id] else { return nil }
        slot.inFlight = max(slot.inFlight - 1, 0)
        slot.breaker.unsent(unsent, epoch: epoch)
        let changed = slot.breaker.record(
            calls: calls, failures: failures, now: now, waitUntil: waitUntil, cause: cause, epoch: epoch)
        slots[id] = slot
        return changed
    }

    /// Closes a sender's breaker by hand; its new state when it was not closed.
    public mutating func reset(_ id: String, now: Int64) -> CircuitBreaker.State? {
        slots[id]?.breaker.reset(now: now)
    }
}
