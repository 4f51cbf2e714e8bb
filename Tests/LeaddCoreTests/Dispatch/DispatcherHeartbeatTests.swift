import Foundation
import PluginAPI
import Testing

@testable import LeaddCore

/// A store whose reads never come back, like a disk that hangs.
class StuckStore: QueueStore, @unchecked Sendable {
    func enqueue(_ messages: [NewMessage], now: Int64) async throws -> [EnqueueResult] { [] }
    func queueLanes(channel: String) async throws -> [QueueLane] {
        try await Task.sleep(for: .seconds(60))
        return []
    }
    func queued(
        channel: String, lane: QueueLane, after: QueueEntry?, dueBy: Int64, limit: Int
    ) async throws -> [QueueEntry] { [] }
    func claim(channel: String, _ picks: [QueuedRow]) async throws -> [ClaimedMessage] { [] }
    func observeQueue(_ observer: @escaping @Sendable ([QueuedRow]) -> Void) {}
    func record(_ outcomes: [DeliveryOutcome]) async throws {}
    func message(id: Int64) async throws -> StoredMessage? { nil }
    func stats() -> QueueStats { QueueStats() }
    func recoverInflight() async throws -> Int { 0 }
    func deadLetters(_ filter: DeadLetterFilter, after: Int64, limit: Int) async throws -> [StoredMessage] { [] }
    func retryDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int { 0 }
    func purgeDeadLetters(_ filter: DeadLetterFilter, now: Int64) async throws -> Int { 0 }
    func close() async {}
}

@Suite struct DispatcherHeartbeatTests {
    @Test func aLoopStuckInTheStoreStopsBeating() async throws {
        let table = try PluginLoader.load(
            file: PluginLoader.resolve("TestChannel", directory: buildProductsDirectory()))
        let plugin = try PluginInstance(
            table: table, settingsJSON: "{}", services: PluginHostServices(log: { _, _ in }, nowMilliseconds: { 0 }))
        var config = LeaddConfig()
        config.channels = [ChannelConfig(name: "sms", plugin: "TestChannel")]
        let dispatcher = ChannelDispatcher(
            name: "sms", plugin: plugin, store: StuckStore(), config: ConfigHolder(config, path: "-"),
            clock: WallClock(),
            logger: quietLogger)
        let loop = Task { await dispatcher.run() }
        defer { loop.cancel() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(dispatcher.isAlive(within: .seconds(1)))
        try await Task.sleep(for: .milliseconds(1_500))
        // The watchdog asks with its own interval; a second and a half without a beat is stuck.
        #expect(!dispatcher.isAlive(within: .seconds(1)))
    }
}

extension StuckStore {
    func putTenant(_ tenant: Tenant, now: Int64) async throws -> Tenant { tenant }
    func tenant(id: String) async throws -> Tenant? { nil }
    func tenants(after: String, limit: Int) async throws -> [Tenant] { [] }
    func release(_ messages: [ClaimedMessage], to state: MessageState) async throws {}
    func putSender(_ sender: Sender, now: Int64) async throws -> Sender { sender }
    func senders(after: String, limit: Int) async throws -> [Sender] { [] }
    func createCampaign(_ campaign: Campaign, now: Int64) async throws -> Campaign { campaign }
    func campaign(id: String) async throws -> Campaign? { nil }
    func campaigns(tenant: String?, after: String, limit: Int) async throws -> [Campaign] { [] }
    func campaignCounts(id: String) async throws -> [MessageState: Int64] { [:] }
    func setCampaignState(id: String, to state: CampaignState, now: Int64) async throws -> Int { 0 }
    func importLeads(campaign: String, _ leads: [PreparedLead], now: Int64) async throws -> [LeadImportResult] { [] }
    func addSuppression(tenant: String, address: String, reason: String?, now: Int64) async throws -> Bool { false }
    func messageID(tenant: String, idempotencyKey: String) async throws -> Int64? { nil }
    func lead(campaign: String, key: String) async throws -> StoredLead? { nil }
    func lead(id: Int64) async throws -> StoredLead? { nil }
    func removeSuppression(tenant: String, address: String) async throws -> Bool { false }
    func suppressions(tenant: String?, after: (String, String), limit: Int) async throws -> [Suppression] { [] }
    func applyReceipt(_ receipt: Receipt) async throws -> ReceiptApplied? { nil }
    func lastSender(to address: String, channel: String) async throws -> String? { nil }
    func optOut(tenant: String, address: String, reason: String, now: Int64) async throws -> Int { 0 }
}
