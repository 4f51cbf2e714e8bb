import Foundation
import LeaddSync
import PluginAPI
import Testing

@testable import LeaddCore

/// A store with one lane of messages due now whose claims take a while, counting how many are
/// under way at once.
final class SlowClaimStore: StuckStore, @unchecked Sendable {
    struct State {
        var claiming = 0
        var mostAtOnce = 0
        var claimed: [Int64] = []
        var recorded: [DeliveryOutcome] = []
        /// Claims to refuse before the store works again.
        var refusals = 0
    }

    let lane = QueueLane(priority: .normal, tenant: "acme")
    let entries: [QueueEntry]
    let state = Locked(State())

    init(messages: Int) { entries = (1...Int64(messages)).map { QueueEntry(dueAt: 0, id: $0) } }

    override func queueLanes(channel: String) async throws -> [QueueLane] { [lane] }

    override func queued(
        channel: String, lane: QueueLane, after: QueueEntry?, dueBy: Int64, limit: Int
    ) async throws -> [QueueEntry] {
        Array(entries.filter { after == nil || $0 > after! }.prefix(limit))
    }

    override func claim(channel: String, _ picks: [QueuedRow]) async throws -> [ClaimedMessage] {
        state.withLock { s in
            s.claiming += 1
            s.mostAtOnce = max(s.mostAtOnce, s.claiming)
        }
        try? await Task.sleep(for: .milliseconds(150))
        return try state.withLock { s in
            s.claiming -= 1
            if s.refusals > 0 {
                s.refusals -= 1
                throw SQLiteError(code: 13, message: "database or disk is full")
            }
            s.claimed += picks.map(\.entry.id)
            return picks.map {
                ClaimedMessage(
                    id: $0.entry.id, tenant: "acme", channel: channel, to: "+5511900000000",
                    contentJSON: #"{"text":"hi"}"#, idempotencyKey: "k\($0.entry.id)", dueAt: 0, attemptCount: 0)
            }
        }
    }

    override func record(_ outcomes: [DeliveryOutcome]) async throws {
        state.withLock { $0.recorded += outcomes }
    }
}

@Suite struct ClaimPipelineTests {
    func dispatch(_ store: SlowClaimStore, until count: Int) async throws -> SlowClaimStore.State {
        let table = try PluginLoader.load(
            file: PluginLoader.resolve("TestChannel", directory: buildProductsDirectory()))
        let plugin = try PluginInstance(
            table: table, settingsJSON: "{}", services: PluginHostServices(log: { _, _ in }, nowMilliseconds: { 0 }))
        var channel = ChannelConfig(name: "sms", plugin: "TestChannel")
        channel.batchSize = 10
        channel.concurrency = 4
        var config = LeaddConfig()
        config.channels = [channel]
        let dispatcher = ChannelDispatcher(
            name: "sms", plugin: plugin, store: store, config: ConfigHolder(config, path: "-"), clock: WallClock(),
            logger: quietLogger)
        let loop = Task { await dispatcher.run() }
        defer { loop.cancel() }
        // Generous: tests run side by side on a pool as wide as the cores, and one that blocks its
        // thread (starting a peer) holds everything else back meanwhile.
        let deadline = Date().addingTimeInterval(60)
        while store.state.withLock({ $0.recorded.count }) < count, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return store.state.withLock { $0 }
    }

    @Test func batchesAreClaimedSideBySideAndEachMessageGoesOnce() async throws {
        let state = try await dispatch(SlowClaimStore(messages: 40), until: 40)
        // Four slots, four batches due: the loop does not wait for one claim before the next.
        #expect(state.mostAtOnce >= 2)
        #expect(state.claimed.sorted() == Array(1...40))
        #expect(state.recorded.map(\.id).sorted() == Array(1...40))
        #expect(state.recorded.allSatisfy { if case .sent = $0.kind { true } else { false } })
    }

    @Test func refusedClaimsGoBackToTheHorizonAndAreSentOnceTheStoreWorks() async throws {
        let store = SlowClaimStore(messages: 40)
        store.state.withLock { $0.refusals = 2 }
        let state = try await dispatch(store, until: 40)
        #expect(state.refusals == 0)
        #expect(state.claimed.sorted() == Array(1...40))
        #expect(state.recorded.map(\.id).sorted() == Array(1...40))
    }
}
