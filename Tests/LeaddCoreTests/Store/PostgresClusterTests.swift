// Several nodes on one PostgreSQL store, in one process: tenants shared out, claims disjoint,
// rows added by one node announced to the node that serves their tenant.
import Foundation
import LeaddSync
import Testing

@testable import LeaddCore

@Suite(.enabled(if: StoreEngine.all.contains(.postgres)))
struct PostgresClusterTests {
    let directory = temporaryDirectory()

    func messages(_ tenants: Int, each: Int) -> [NewMessage] {
        (0..<tenants).flatMap { t in
            (0..<each).map { n in
                NewMessage(
                    tenant: "t\(t)", channel: "sms", to: "+55119\(t)\(n)", contentJSON: #"{"text":"hi"}"#, dueAt: 1_000)
            }
        }
    }

    @Test func tenantsAreSharedOutAndEachMessageIsClaimedOnce() async throws {
        let a = try StoreEngine.postgres.open(directory, node: "a") as! PostgresQueueStore
        let b = try StoreEngine.postgres.open(directory, node: "b") as! PostgresQueueStore
        // Both see each other once a's next heartbeat has read the nodes table.
        try await waitUntil { a.cluster?.nodes.count == 2 && b.cluster?.nodes.count == 2 }
        #expect(a.rateShare == 0.5)
        let ids = try await a.enqueue(messages(20, each: 5), now: 0).map(\.id)

        let lanesA = Set(try await a.queueLanes(channel: "sms").map(\.tenant))
        let lanesB = Set(try await b.queueLanes(channel: "sms").map(\.tenant))
        #expect(lanesA.isDisjoint(with: lanesB))
        #expect(lanesA.union(lanesB).count == 20)
        #expect(!lanesA.isEmpty && !lanesB.isEmpty)

        let claimedA = try await a.claimDue(channel: "sms", now: 1_000, limit: 1_000)
        let claimedB = try await b.claimDue(channel: "sms", now: 1_000, limit: 1_000)
        #expect(Set(claimedA.map(\.id)).isDisjoint(with: claimedB.map(\.id)))
        #expect(Set(claimedA.map(\.id) + claimedB.map(\.id)) == Set(ids))
        #expect(claimedA.allSatisfy { lanesA.contains($0.tenant) })

        // A node cannot record the outcome of a message the other holds.
        let foreign = claimedB[0]
        try await a.record([
            DeliveryOutcome(
                id: foreign.id, channel: "sms", kind: .sent(providerID: "x"), at: 2_000, word: "sent", detail: nil)
        ])
        #expect(try await a.message(id: foreign.id)?.state == .inflight)
        #expect(a.cluster?.nodes.first { $0.name == "b" } != nil)
        await b.close()
        // b left cleanly: a serves every tenant now.
        try await waitUntil { a.cluster?.nodes.map(\.name) == ["a"] }
        #expect(a.rateShare == 1)
        await a.close()
    }

    @Test func rowsAddedByOneNodeAreAnnouncedToTheNodeServingTheirTenant() async throws {
        let a = try StoreEngine.postgres.open(directory, node: "a") as! PostgresQueueStore
        let b = try StoreEngine.postgres.open(directory, node: "b") as! PostgresQueueStore
        try await waitUntil { a.cluster?.nodes.count == 2 && b.cluster?.nodes.count == 2 }
        let heard = Locked<Set<String>>([])
        b.observeReopenedLanes { lanes in heard.withLock { for l in lanes { $0.insert(l.lane.tenant) } } }
        _ = try await a.enqueue(messages(20, each: 1), now: 0)
        let bServes = Set((0..<20).map { "t\($0)" }.filter { b.owns($0) })
        #expect(!bServes.isEmpty)
        try await waitUntil { heard.withLock { $0 } == bServes }
        await a.close()
        await b.close()
    }

    @Test func aDeadNodesMessagesAreTakenBackAfterItsLease() async throws {
        let a = try StoreEngine.postgres.open(directory, node: "a", lease: .seconds(1)) as! PostgresQueueStore
        let url = try PostgresTestCluster.shared.database(for: directory)
        // A node that claimed and then went silent: its row and its claims, as a crash leaves them.
        let db = try PostgresConnection(url: url)
        let ids = try await a.enqueue(messages(4, each: 2), now: 0).map(\.id)
        try db.query(
            "INSERT INTO nodes VALUES ('ghost', 'elsewhere', 1, 'x', 0, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
        )
        try db.query(
            "UPDATE messages SET state = 1, claimed_by = 'ghost' WHERE id = ANY($1::bigint[])", [PostgresArray(ids)])
        try db.query("DELETE FROM queue")
        #expect(try await a.claimDue(channel: "sms", now: 1_000, limit: 100).isEmpty)
        // After the lease, a takes them back and sends them.
        try await waitUntil { a.cluster?.nodes.map(\.name) == ["a"] }
        try await waitUntil { try await a.message(id: ids[0])?.state == .scheduled }
        let claimed = try await a.claimDue(channel: "sms", now: 1_000, limit: 100)
        #expect(Set(claimed.map(\.id)) == Set(ids))
        await a.close()
    }

    @Test func aNodeNameHeldByALiveProcessElsewhereIsRefused() async throws {
        let a = try StoreEngine.postgres.open(directory, node: "a") as! PostgresQueueStore
        let url = try PostgresTestCluster.shared.database(for: directory)
        let db = try PostgresConnection(url: url)
        try db.query(
            "INSERT INTO nodes VALUES ('b', 'another-host', 4242, 'x', 0, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
        )
        #expect {
            _ = try StoreEngine.postgres.open(directory, node: "b")
        } throws: { error in
            "\(error)".contains("node 'b' is in use by pid 4242 on another-host")
        }
        await a.close()
    }
}

/// Polls `condition` until it holds or `seconds` pass (then fails the test).
func waitUntil(seconds: Double = 30, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("condition not met within \(seconds) s")
}
