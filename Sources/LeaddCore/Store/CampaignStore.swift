// What the daemon needs from durable storage for tenants, campaigns, leads and suppressions.

public protocol CampaignStore: Sendable {
    /// Creates or replaces a tenant's stored settings.
    func putTenant(_ tenant: Tenant, now: Int64) async throws -> Tenant
    func tenant(id: String) async throws -> Tenant?
    /// Tenants ordered by id, after `after`.
    func tenants(after: String, limit: Int) async throws -> [Tenant]

    /// Stores a new campaign; throws `CampaignStoreError.exists` for a taken id.
    func createCampaign(_ campaign: Campaign, now: Int64) async throws -> Campaign
    func campaign(id: String) async throws -> Campaign?
    /// Campaigns ordered by id after `after`, of one tenant when given.
    func campaigns(tenant: String?, after: String, limit: Int) async throws -> [Campaign]
    func campaignCounts(id: String) async throws -> [MessageState: Int64]
    /// Pauses, resumes or cancels; returns how many messages moved.
    func setCampaignState(id: String, to state: CampaignState, now: Int64) async throws -> Int
    /// Stores leads with their messages; a lead whose key the campaign has adds nothing.
    func importLeads(campaign: String, _ leads: [PreparedLead], now: Int64) async throws -> [LeadImportResult]

    /// The id of the message a tenant stored under an idempotency key.
    func messageID(tenant: String, idempotencyKey: String) async throws -> Int64?
    /// A lead of a campaign by its key, with its stored fields.
    func lead(campaign: String, key: String) async throws -> StoredLead?
    /// A lead by its row id.
    func lead(id: Int64) async throws -> StoredLead?

    func addSuppression(tenant: String, address: String, reason: String?, now: Int64) async throws -> Bool
    func removeSuppression(tenant: String, address: String) async throws -> Bool
    func suppressions(tenant: String?, after: (String, String), limit: Int) async throws -> [Suppression]
}
