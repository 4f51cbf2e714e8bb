import Foundation
import Testing

@testable import LeaddCore

/// The SQLite store keeps messages in flight in memory and lists each claimed batch in one
/// `claims` row: what that must keep of the old per-row mark, read from the file itself.
@Suite struct InflightClaimsTests {
    let directory = temporaryDirectory()
    var path: String { directory + "/leadd.db" }

    func messages(_ count: Int, campaign: String? = nil) -> [NewMessage] {
        (0..<count).map { i in
            var m = NewMessage(
                tenant: "acme", channel: "sms", to: "+55119000000\(i)", contentJSON: #"{"text":"hi"}"#, dueAt: 1_000)
            m.campaign = campaign
            return m
        }
    }

    func sent(_ id: Int64) -> DeliveryOutcome {
        DeliveryOutcome(id: id, channel: "sms", kind: .sent(providerID: "P\(id)"), at: 1_100, word: "sent", detail: nil)
    }

    /// Rows of the file, read on a connection of the test's own.
    func scalar(_ sql: String) throws -> Int64 {
        try SQLiteConnection(path: path).scalar(sql) ?? -1
    }

    @Test func aClaimWritesOneRowPerBatchAndLeavesTheMessagesUntilTheirOutcome() async throws {
        let store = try SQLiteQueueStore(path: path)
        let ids = try await store.enqueue(messages(3), now: 0).map(\.id)
        let claimed = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
        #expect(claimed.count == 3)
        #expect(try scalar("SELECT count(*) FROM claims") == 1)
        #expect(try scalar("SELECT count(*) FROM queue") == 0)
        // The rows still say waiting; the store knows better.
        #expect(try scalar("SELECT count(*) FROM messages WHERE state = 0") == 3)
        #expect(try await store.message(id: ids[0])?.state == .inflight)
        #expect(store.stats().total[.inflight] == 3)

        try await store.record([sent(ids[0]), sent(ids[1])])
        #expect(try scalar("SELECT count(*) FROM claims") == 1)
        try await store.release([claimed[2]], to: .scheduled)
        // The last message of the batch settled: its claims row goes.
        #expect(try scalar("SELECT count(*) FROM claims") == 0)
        #expect(try await store.message(id: ids[2])?.state == .scheduled)
        #expect(store.stats().total[.inflight] == nil)
        await store.close()
    }

    @Test func afterACrashOnlyWhatWasStillInFlightIsQueuedAgain() async throws {
        var ids: [Int64] = []
        do {
            let store = try SQLiteQueueStore(path: path)
            ids = try await store.enqueue(messages(4), now: 0).map(\.id)
            let claimed = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
            try await store.record([sent(ids[0])])
            try await store.release([claimed[1]], to: .scheduled)
            // Claimed again in a second batch, then the process dies with both batches open.
            _ = try await store.claim(
                channel: "sms",
                [
                    QueuedRow(
                        channel: "sms", lane: QueueLane(priority: .normal, tenant: "acme"),
                        entry: QueueEntry(dueAt: 1_000, id: ids[1]))
                ])
            try await store.record([
                DeliveryOutcome(
                    id: ids[2], channel: "sms", kind: .retry(at: 5_000), at: 1_100, word: "retry", detail: "busy")
            ])
            await store.close()
        }
        #expect(try scalar("SELECT count(*) FROM claims") == 2)
        let reopened = try SQLiteQueueStore(path: path)
        #expect(reopened.stats().total[.inflight] == 2)
        // ids[1] (listed twice) and ids[3]; not the sent one, not the one waiting for its retry.
        #expect(try await reopened.recoverInflight() == 2)
        let stats = reopened.stats().total
        #expect(stats[.inflight] == nil)
        #expect(stats[.scheduled] == 3)
        #expect(stats[.sent] == 1)
        #expect(try scalar("SELECT count(*) FROM claims") == 0)
        #expect(try scalar("SELECT count(*) FROM queue") == 3)
        let due = try await reopened.claimDue(channel: "sms", now: 10_000, limit: 10)
        #expect(due.map(\.id).sorted() == [ids[1], ids[2], ids[3]])
        #expect(due.first { $0.id == ids[2] }?.dueAt == 5_000)
        await reopened.close()
    }

    @Test func aJobThatFailsTakesItsChangesInMemoryWithIt() async throws {
        let store = try SQLiteQueueStore(path: path)
        let ids = try await store.enqueue(messages(2), now: 0).map(\.id)
        _ = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
        struct Refused: Error {}
        // A job that settles a message and then fails, grouped or not with others.
        await #expect(throws: Refused.self) {
            try await store.writer.submit { [claims = store.claims] db, _ in
                _ = claims.settle([ids[0]])
                try db.execute("UPDATE messages SET state = 2 WHERE id = \(ids[0])")
                throw Refused()
            }
        }
        #expect(store.claims.contains(ids[0]))
        #expect(try await store.message(id: ids[0])?.state == .inflight)
        // So its outcome still lands.
        try await store.record([sent(ids[0]), sent(ids[1])])
        #expect(try await store.message(id: ids[0])?.state == .sent)
        #expect(store.stats().total[.sent] == 2)
        #expect(store.claims.count == 0)
        await store.close()
    }

    @Test func theJournalUndoesAddsAndSettlesInReverse() {
        let claims = InflightClaims()
        claims.add(batch: 1, [(10, "sms", nil), (11, "sms", "c1")])
        claims.commit()
        let mark = claims.mark()
        #expect(claims.settle([10, 10, 12]).inFlight == [true, false, false])
        claims.add(batch: 2, [(12, "sms", nil)])
        #expect(claims.settle([11]).emptied == [1])
        claims.rollback(to: mark)
        #expect(claims.count == 2)
        #expect(claims.contains(10) && claims.contains(11) && !claims.contains(12))
        #expect(claims.inFlight(campaign: "c1").map(\.id) == [11])
        // The batch counts came back too: settling both empties batch 1 once.
        #expect(claims.settle([10, 11]).emptied == [1])
    }

    @Test func optOutsAndCampaignChangesLeaveMessagesInFlightToTheirOutcome() async throws {
        let store = try SQLiteQueueStore(path: path)
        _ = try await store.createCampaign(Campaign(id: "c1", tenant: "acme", name: "c", steps: []), now: 0)
        let ids = try await store.enqueue(messages(3, campaign: "c1"), now: 0).map(\.id)
        let claimed = try await store.claim(
            channel: "sms",
            [
                QueuedRow(
                    channel: "sms", lane: QueueLane(priority: .normal, tenant: "acme", campaign: "c1"),
                    entry: QueueEntry(dueAt: 1_000, id: ids[0]))
            ])
        #expect(claimed.count == 1)
        // The lead opts out while its message is with the plugin: only what waits is cancelled.
        #expect(try await store.optOut(tenant: "acme", address: "+551190000000", reason: "STOP", now: 1_050) == 0)
        #expect(try await store.campaignCounts(id: "c1") == [.inflight: 1, .scheduled: 2])
        #expect(try await store.setCampaignState(id: "c1", to: .paused, now: 1_060) == 2)
        #expect(try await store.campaignCounts(id: "c1") == [.inflight: 1, .paused: 2])
        try await store.record([sent(ids[0])])
        #expect(try await store.message(id: ids[0])?.state == .sent)
        #expect(store.stats().total == [.sent: 1, .paused: 2])
        await store.close()
    }

    @Test func messagesLeftInFlightByAnOlderSchemaGoBackToTheQueue() async throws {
        do {
            let db = try SchemaUpgradeTests.database(at: path, version: 5)
            try db.execute(
                """
                INSERT INTO messages(id, tenant, channel, recipient, content, priority, state, due_at, created_at)
                VALUES (7, 'acme', 'sms', '+5511987654321', '{"text":"old"}', 1, 1, 1000, 1000),
                       (8, 'acme', 'sms', '+5511987654322', '{"text":"old"}', 1, 0, 1000, 1000);
                INSERT INTO queue VALUES ('sms', 1, 'acme', '', '', 1000, 8);
                INSERT INTO counts VALUES ('sms', 0, 1), ('sms', 1, 1);
                """)
        }
        let store = try SQLiteQueueStore(path: path)
        #expect(store.stats().total == [.scheduled: 2])
        #expect(try scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'messages_inflight'") == 0)
        #expect(try await store.claimDue(channel: "sms", now: 2_000, limit: 10).map(\.id) == [7, 8])
        await store.close()
    }
}
