// Several leadd processes on one PostgreSQL store (a private cluster started by the test): they
// share one queue, send each message once, and when one is killed mid-dispatch the others take
// back what it held once its lease runs out.
import Foundation
import LeaddClient
import LeaddProtocol
import TestSupport
import Testing

@Suite(.enabled(if: PrivatePostgres.installed || ProcessInfo.processInfo.environment["CI"] != nil), .serialized)
struct MultiNodeTests {
    /// A node on `postgres` whose test plugin takes `delay` ms per batch.
    func node(_ name: String, _ postgres: PrivatePostgres, delay: Int = 0, batch: Int = 20, lease: Int = 2) throws
        -> DaemonProcess
    {
        try DaemonProcess(
            channels: """
                  sms:
                    plugin: TestChannel
                    batch_size: \(batch)
                    concurrency: 2
                    settings:
                      file: @SENT@
                      delay_ms: \(delay)
                """,
            extraDaemon: """
                store:
                  kind: postgres
                  url: \(postgres.url)
                  node: \(name)
                  lease: \(lease)s
                  pool: 2
                """, name: "multi-\(name)")
    }

    func nodes(_ daemon: DaemonProcess) throws -> [String] {
        try daemon.call("status")["cluster"]?["nodes"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }

    /// Message ids in the order a node's plugin sent them.
    func sentIDs(_ daemon: DaemonProcess) -> [String] { daemon.sentRecords.compactMap { $0["id"]?.stringValue } }

    func sendOverTenants(_ daemon: DaemonProcess, tenants: Int, each: Int) throws -> Int {
        try (0..<tenants).reduce(0) { total, t in
            total + (try daemon.sendBatch(each, keyPrefix: "m\(t)-", tenant: "tenant\(t)"))
        }
    }

    @Test func threeNodesShareOneQueueAndSendEachMessageOnce() throws {
        let postgres = try PrivatePostgres()
        let all = try ["n1", "n2", "n3"].map { try node($0, postgres) }
        for daemon in all { try daemon.start() }
        #expect(try all[0].eventually(timeout: 10) { try nodes(all[0]) == ["n1", "n2", "n3"] })
        #expect(try all[2].eventually(timeout: 10) { try nodes(all[2]) == ["n1", "n2", "n3"] })

        #expect(try sendOverTenants(all[0], tenants: 30, each: 20) == 600)
        #expect(try all[1].allSent(600, timeout: 60))
        let sent = all.map(sentIDs)
        let ids = sent.flatMap { $0 }
        #expect(ids.count == 600, "every message sent once: \(ids.count) sends")
        #expect(Set(ids).count == 600)
        // Tenants are shared out: every node sent some, and a tenant's messages went through one node.
        #expect(sent.allSatisfy { !$0.isEmpty }, "sends per node: \(sent.map(\.count))")
        let tenantsByNode = all.map { Set($0.sentRecords.compactMap { $0["tenant"]?.stringValue }) }
        #expect(tenantsByNode[0].isDisjoint(with: tenantsByNode[1]))
        #expect(tenantsByNode[1].isDisjoint(with: tenantsByNode[2]))
        let channels = try all[0].call("channel.list").arrayValue ?? []
        #expect(channels.first?["node"]?.stringValue == "n1")
        #expect(channels.first?["in_flight_by_node"]?["n3"] != nil)
        for daemon in all {
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit() == 0)
        }
    }

    @Test func aNodeKilledMidDispatchLosesNothingAndItsMessagesAreTakenOver() throws {
        let postgres = try PrivatePostgres()
        // A lease long enough that what n2 held can be read after the kill, before n1 takes it back.
        let survivor = try node("n1", postgres, delay: 100, batch: 10, lease: 5)
        let victim = try node("n2", postgres, delay: 100, batch: 10, lease: 5)
        try survivor.start()
        try victim.start()
        #expect(try survivor.eventually(timeout: 10) { try nodes(survivor) == ["n1", "n2"] })
        #expect(try victim.eventually(timeout: 10) { try nodes(victim) == ["n1", "n2"] })
        #expect(try sendOverTenants(survivor, tenants: 20, each: 30) == 600)
        #expect(victim.eventually(timeout: 30) { sentIDs(victim).count >= 40 })
        victim.kill9()
        let before = sentIDs(victim)
        // What n2 held in flight when it died (its lease runs 5 s from its last renewal).
        let heldAtKill = Set(try postgres.query("SELECT id FROM messages WHERE state = 1 AND claimed_by = 'n2'"))

        // After the lease n1 is alone, takes n2's tenants and its in-flight messages.
        #expect(try survivor.eventually(timeout: 30) { try nodes(survivor) == ["n1"] })
        #expect(try survivor.allSent(600, timeout: 90))
        let after = sentIDs(survivor)
        let everything = Set(before + after)
        #expect(everything.count == 600, "all 600 messages sent: \(everything.count)")
        // Only what n2 held in flight (handed to its plugin, outcome not yet recorded) may go out twice.
        let twice = Set(before).intersection(after)
        #expect(twice.isSubset(of: heldAtKill), "sent twice: \(twice.count), held by n2: \(heldAtKill.count)")
        #expect(!heldAtKill.isEmpty)
        // Counts from other nodes' writes arrive with the next refresh (once a second).
        let settled = try survivor.eventually(timeout: 5) {
            let total = try survivor.call("queue.stats")["total"]
            return total?["inflight"] == .integer(0) && total?["scheduled"] == .integer(0)
        }
        #expect(settled, "counts: \(String(describing: try? survivor.call("queue.stats")["total"]))")
        #expect(survivor.log.contains("stopped renewing their lease"))
        survivor.signal(SIGTERM)
        #expect(survivor.waitForExit() == 0)
    }

    @Test func whilePostgreSQLIsDownRequestsFailClearlyAndSendingResumesAfter() throws {
        let postgres = try PrivatePostgres()
        let daemon = try node("n1", postgres)
        try daemon.start()
        #expect(try daemon.sendBatch(10, keyPrefix: "before-") == 10)
        #expect(try daemon.allSent(10))

        postgres.stop()
        // An error answer, not a lost message: nothing was acknowledged.
        #expect {
            try daemon.call("message.send", sendParams(tenant: "acme", key: "during-0"))
        } throws: { error in
            guard case .refused(_, let message, _) = error as? ClientError else { return false }
            return message.contains("PostgreSQL") || message.contains("store")
        }
        // leadd stays up and keeps answering status.
        #expect(daemon.process?.isRunning == true)
        #expect(try daemon.call("status")["node"]?.stringValue == "n1")

        try postgres.restart()
        let accepted = daemon.eventually(timeout: 20) {
            (try? daemon.sendBatch(10, keyPrefix: "after-")) == 10
        }
        #expect(accepted)
        #expect(daemon.eventually(timeout: 30) { sentIDs(daemon).count == 20 })
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test func aSecondProcessWithTheSameNodeNameIsRefused() throws {
        let postgres = try PrivatePostgres()
        let first = try node("n1", postgres)
        try first.start()
        let second = try node("n1", postgres)
        // The name is held by a live process: the second exits at once, saying why.
        #expect(throws: (any Error).self) { try second.start() }
        #expect(second.waitForExit() == 69)
        #expect(second.log.contains("node 'n1' is in use by pid"))
        first.signal(SIGTERM)
        #expect(first.waitForExit() == 0)
    }
}
