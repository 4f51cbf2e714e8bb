import Foundation
import Testing

@testable import LeaddCore

/// The SQLite queue is keyed by lane number: numbers must follow their transaction, and lanes
/// with nothing queued must not pile up.
@Suite struct LaneNumbersTests {
    let directory = temporaryDirectory()

    func database() throws -> SQLiteConnection {
        let db = try SQLiteConnection(path: directory + "/leadd.db")
        try SQLiteQueueStore.migrate(db, from: 0)
        return db
    }

    func row(_ tenant: String, id: Int64) -> QueuedRow {
        QueuedRow(
            channel: "sms", lane: QueueLane(priority: .normal, tenant: tenant), entry: QueueEntry(dueAt: 1, id: id))
    }

    @Test func aRolledBackTransactionForgetsTheLanesItNumbered() throws {
        let db = try database()
        let lanes = LaneNumbers()
        try lanes.load(db)
        let lane = QueueLane(priority: .urgent, tenant: "acme", zone: "America/Sao_Paulo", campaign: "spring")

        try db.execute("BEGIN")
        _ = try lanes.number("sms", lane, db)
        #expect(lanes.existing("sms", lane) != nil)
        try db.execute("ROLLBACK")
        lanes.rollback(to: 0)
        #expect(lanes.existing("sms", lane) == nil)
        #expect(lanes.count == 0)

        try db.execute("BEGIN")
        let number = try lanes.number("sms", lane, db)
        try db.execute("COMMIT")
        lanes.commit()
        #expect(lanes.existing("sms", lane) == number)
        #expect(try db.scalar("SELECT count(*) FROM lanes") == 1)
        #expect(
            try db.scalar("SELECT id FROM lanes WHERE campaign = 'spring' AND zone = 'America/Sao_Paulo'") == number)
        // The same lane on another channel is another lane.
        try db.execute("BEGIN")
        #expect(try lanes.number("email", lane, db) != number)
        try db.execute("COMMIT")
        lanes.commit()
    }

    @Test func lanesWithNothingQueuedAreDroppedAfterManyNewOnesAndAtOpen() throws {
        let db = try database()
        let lanes = LaneNumbers(pruneAfter: 3)
        try lanes.load(db)
        let queue = try QueueTable(db, lanes)
        var effects = CommitEffects()
        try db.execute("BEGIN")
        for (n, tenant) in ["a", "b", "c"].enumerated() { try queue.add(row(tenant, id: Int64(n)), &effects) }
        #expect(try queue.remove(row("a", id: 0)))
        #expect(try !queue.remove(row("a", id: 0)))
        // The fourth new lane finds three added since the last look: "a" is empty and goes.
        try queue.add(row("d", id: 3), &effects)
        try db.execute("COMMIT")
        lanes.commit()
        #expect(effects.queued.count == 4)
        #expect(lanes.existing("sms", row("a", id: 0).lane) == nil)
        #expect(lanes.count == 3)
        #expect(try db.scalar("SELECT count(*) FROM lanes") == 3)
        #expect(try db.scalar("SELECT count(*) FROM lanes WHERE tenant = 'a'") == 0)

        // A lane emptied later goes when the store opens again; the others keep their numbers.
        let b = lanes.existing("sms", row("b", id: 1).lane)
        try db.execute("BEGIN")
        #expect(try queue.remove(row("c", id: 2)))
        try db.execute("COMMIT")
        lanes.commit()
        let reopened = LaneNumbers()
        try reopened.load(db)
        #expect(reopened.count == 2)
        #expect(reopened.existing("sms", row("b", id: 1).lane) == b)
        #expect(reopened.existing("sms", row("c", id: 2).lane) == nil)
    }

    @Test func theStoreServesEachLaneItsOwnRowsInOrder() async throws {
        let store = try SQLiteQueueStore(path: directory + "/store.db")
        var messages: [NewMessage] = []
        for (n, (tenant, zone, campaign)) in [
            ("acme", "", ""), ("beta", "", ""), ("acme", "Europe/Lisbon", ""), ("acme", "", "spring"),
            ("acme", "", ""),
        ].enumerated() {
            var m = NewMessage(
                tenant: tenant, channel: "sms", to: "+5511900000\(n)", contentJSON: #"{"text":"hi"}"#,
                dueAt: Int64(1_000 - n))
            m.timeZone = zone.isEmpty ? nil : zone
            m.campaign = campaign.isEmpty ? nil : campaign
            messages.append(m)
        }
        let ids = try await store.enqueue(messages, now: 0).map(\.id)
        let lanes = try await store.queueLanes(channel: "sms")
        #expect(
            lanes == [
                QueueLane(priority: .normal, tenant: "acme"),
                QueueLane(priority: .normal, tenant: "acme", campaign: "spring"),
                QueueLane(priority: .normal, tenant: "acme", zone: "Europe/Lisbon"),
                QueueLane(priority: .normal, tenant: "beta"),
            ])
        let plain = try await store.queued(channel: "sms", lane: lanes[0], after: nil, dueBy: .max, limit: 10)
        #expect(plain.map(\.id) == [ids[4], ids[0]])
        #expect(try await store.queued(channel: "email", lane: lanes[0], after: nil, dueBy: .max, limit: 10).isEmpty)
        #expect(try await store.queueLanes(channel: "email").isEmpty)
        await store.close()
    }
}
