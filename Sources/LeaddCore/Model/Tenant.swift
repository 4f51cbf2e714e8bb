// A tenant as stored: what `tenant.put` gave. Fields left nil fall back to the config's
// `tenants.overrides.<id>` and then `tenants.defaults`.

public struct Tenant: Sendable, Equatable {
    public var id: String
    public var name: String?
    /// ISO 3166-1 alpha-2 region for reading phone numbers written without a country code.
    public var country: String?
    /// IANA zone the tenant's sending window is read in.
    public var timeZone: String?
    /// A named window from the config's `schedules`.
    public var schedule: String?
    public var rate: Rate?
    public var burst: Int?
    public var weight: Int?
    /// Sender ids the tenant's messages go out through; nil: the config's.
    public var senders: [String]?
    /// Opt-out words of its own by language; nil: the config's.
    public var optOutKeywords: [String: [String]]?
    public var createdAt: Int64 = 0
    public var updatedAt: Int64 = 0

    public init(id: String) { self.id = id }
}
