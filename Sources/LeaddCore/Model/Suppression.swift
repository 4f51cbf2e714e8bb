// An address a tenant must not contact again (an opt-out, a complaint, a hard bounce).

public struct Suppression: Sendable, Equatable {
    public var tenant: String
    /// E.164 phone number or lower-cased e-mail address.
    public var address: String
    public var reason: String?
    public var createdAt: Int64

    public init(tenant: String, address: String, reason: String?, createdAt: Int64) {
        self.tenant = tenant
        self.address = address
        self.reason = reason
        self.createdAt = createdAt
    }
}
