import LeaddSync

// Values derived from something slower to compute (a phone number read against its numbering
// plan, a campaign's compiled templates), kept for `ttl` and at most `capacity` entries, with hit
// and miss counts for status. Writes that change the source call `remove` or `removeAll`.

public final class TTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct State {
        var entries: [Key: (value: Value, expires: Int64)] = [:]
        var hits = 0
        var misses = 0
    }

    private let state = Locked(State())
    public let ttl: Int64
    public let capacity: Int

    public init(ttl: Duration, capacity: Int) {
        self.ttl = ttl.milliseconds
        self.capacity = capacity
    }

    /// The cached value for `key`, or `make()`'s, remembered until `now + ttl`.
    public func value(for key: Key, now: Int64, make: () throws -> Value) rethrows -> Value {
        if let hit = state.withLock({ s -> Value? in
            guard let entry = s.entries[key], entry.expires > now else { return nil }
            s.hits += 1
            return entry.value
        }) {
            return hit
        }
        let value = try make()
        state.withLock { s in
            s.misses += 1
            // Full: drop what has expired, and if that is not enough, everything (cheap, and
            // the next lookups refill what is in use).
            if s.entries.count >= capacity {
                s.entries = s.entries.filter { $0.value.expires > now }
                if s.entries.count >= capacity { s.entries.removeAll(keepingCapacity: true) }
            }
            s.entries[key] = (value, now + ttl)
        }
        return value
    }

    public func remove(_ key: Key) { state.withLock { _ = $0.entries.removeValue(forKey: key) } }

    public func removeAll() { state.withLock { $0.entries.removeAll() } }

    public var counts: (entries: Int, hits: Int, misses: Int) {
        state.withLock { ($0.entries.count, $0.hits, $0.misses) }
    }
}
