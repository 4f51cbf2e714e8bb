import LeaddSync

// Every suppressed (tenant, address), mirrored in memory for the checks at import and at send
// time; changed by the same writes that change the store.

public final class SuppressionList: Sendable {
    private let entries = Locked<Set<String>>([])

    public init() {}

    private static func key(_ tenant: String, _ address: String) -> String { tenant + "\u{0}" + address }

    public func load(_ list: [Suppression]) {
        entries.withLock { e in for s in list { e.insert(Self.key(s.tenant, s.address)) } }
    }

    public func add(tenant: String, address: String) { entries.withLock { _ = $0.insert(Self.key(tenant, address)) } }

    public func remove(tenant: String, address: String) {
        entries.withLock { _ = $0.remove(Self.key(tenant, address)) }
    }

    public func contains(tenant: String, address: String) -> Bool {
        entries.withLock { $0.contains(Self.key(tenant, address)) }
    }

    public var count: Int { entries.withLock { $0.count } }
}
