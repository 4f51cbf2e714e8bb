// Every stored tenant, mirrored in memory and changed by the same writes that change the store
// (all writes go through this daemon), so lookups on the send path never touch SQLite. What a
// tenant is held to is its stored fields over the config's override and defaults; that
// resolution is remembered per tenant until the tenant or the config changes.
import Foundation
import LeaddSync

public final class TenantDirectory: Sendable {
    private struct State {
        var stored: [String: Tenant] = [:]
        var resolved: [String: TenantSettings] = [:]
        var generation = -1
        var hits = 0
        var misses = 0
    }

    private let state = Locked(State())

    public init() {}

    public func load(_ tenants: [Tenant]) {
        state.withLock { s in
            for t in tenants { s.stored[t.id] = t }
            s.resolved.removeAll()
        }
    }

    public func put(_ tenant: Tenant) {
        state.withLock { s in
            s.stored[tenant.id] = tenant
            s.resolved[tenant.id] = nil
        }
    }

    public func tenant(_ id: String) -> Tenant? { state.withLock { $0.stored[id] } }

    public var count: Int { state.withLock { $0.stored.count } }

    /// (hits, misses) of the resolved-settings memory, for status.
    public var lookups: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

    /// Tenants bound to `sender` by name, stored or in the config's overrides; nil when the
    /// defaults bind every tenant to it (then it names no one tenant).
    public func bound(to sender: String, config: LeaddConfig) -> Set<String>? {
        if config.tenants.defaults.senders.contains(sender) { return nil }
        var ids = Set(config.tenants.overrides.filter { $0.value.senders.contains(sender) }.keys)
        state.withLock { s in
            for (id, tenant) in s.stored {
                guard let own = tenant.senders else { continue }
                if own.contains(sender) { ids.insert(id) } else { ids.remove(id) }
            }
        }
        return ids
    }

    /// What `id` is held to under `config` (of the given generation).
    public func settings(for id: String, config: LeaddConfig, generation: Int) -> TenantSettings {
        state.withLock { s in
            if s.generation != generation {
                s.resolved.removeAll(keepingCapacity: true)
                s.generation = generation
            }
            if let known = s.resolved[id] {
                s.hits += 1
                return known
            }
            s.misses += 1
            var settings = config.tenants.settings(for: id)
            if let t = s.stored[id] {
                if let v = t.country { settings.country = v }
                if let v = t.timeZone, let zone = TimeZone(identifier: v) { settings.timeZone = zone }
                if let v = t.schedule, config.schedules[v] != nil { settings.schedule = v }
                if let v = t.rate { settings.rate = v }
                if let v = t.burst { settings.burst = v }
                if let v = t.weight { settings.weight = v }
                if let v = t.senders { settings.senders = v }
                if let v = t.optOutKeywords { settings.optOutKeywords = v }
            }
            s.resolved[id] = settings
            return settings
        }
    }
}
