import Foundation
import LeaddSync
import TestSupport
import Testing

@testable import LeaddCore

@Suite struct QueueStoreTests {
    let directory = temporaryDirectory()
    var path: String { directory + "/leadd.db" }

    func message(_ to: String = "+5511987654321", key: String? = nil, due: Int64 = 1_000, channel: String = "sms")
        -> NewMessage
    {
        NewMessage(
            tenant: "acme", channel: channel, to: to, contentJSON: #"{"text":"hi"}"#, dueAt: due, idempotencyKey: key)
    }

    @Test(arguments: StoreEngine.all) func releasedClaimsGoBackToTheQueueOrStayWithTheirCampaign(engine: StoreEngine)
        async throws
    {
        let store = try engine.open(directory)
        let ids = try await store.enqueue([message(), message("+5511900000001"), message("+5511900000002")], now: 500)
        let claimed = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
        #expect(claimed.count == 3)
        try await store.release([claimed[0]], to: .scheduled)
        try await store.release([claimed[1]], to: .paused)
        try await store.release([claimed[2]], to: .cancelled)
        #expect(try await store.message(id: ids[0].id)?.state == .scheduled)
        #expect(try await store.message(id: ids[1].id)?.state == .paused)
        #expect(try await store.message(id: ids[2].id)?.state == .cancelled)
        // No try was used and no history written.
        #expect(try await store.message(id: ids[0].id)?.attempts.isEmpty == true)
        #expect(try await store.message(id: ids[0].id)?.attemptCount == 0)
        // Only the released-to-queue one can be claimed again, at its own due time.
        let again = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
        #expect(again.map(\.id) == [ids[0].id])
        #expect(again.first?.dueAt == 1_000)
        // A message no longer in flight is left alone.
        try await store.release([claimed[2]], to: .scheduled)
        #expect(try await store.message(id: ids[2].id)?.state == .cancelled)
        let stats = store.stats()
        #expect(stats.total[.inflight] == 1)
        #expect(stats.total[.paused] == 1)
    }

    @Test(arguments: StoreEngine.all) func claimsMadeAheadAreHandedOutOnceAndGivenBack(engine: StoreEngine) async throws
    {
        let store = try engine.open(directory)
        let ids = try await store.enqueue(
            [message(due: 1_050), message("+5511900000001", due: 1_080), message("+5511900000002", due: 1_090)],
            now: 500)
        let lane = QueueLane(priority: .normal, tenant: "acme")
        let rows = zip(ids, [1_050, 1_080, 1_090] as [Int64]).map {
            QueuedRow(channel: "sms", lane: lane, entry: QueueEntry(dueAt: $1, id: $0.id))
        }
        let prefetch = ClaimPrefetch(channel: "sms", store: store, capacity: 2)
        #expect(prefetch.room().0 == 2)
        let claim = prefetch.start(Array(rows.prefix(2)))
        #expect(prefetch.room().0 == 0)
        await claim.value
        #expect(prefetch.room() == (0, Set(ids.prefix(2).map(\.id))))
        #expect(try await store.message(id: ids[0].id)?.state == .inflight)
        // At the due time: the first comes from what was claimed ahead, the third is claimed now.
        let taken = try await prefetch.take([rows[0], rows[2]])
        #expect(Set(taken.map(\.id)) == [ids[0].id, ids[2].id])
        #expect(try await prefetch.take([rows[0]]).isEmpty)
        // The second is given back (a shutdown, or its campaign paused) and can be claimed again.
        let left = await prefetch.takeAll(campaign: nil)
        #expect(left.map(\.id) == [ids[1].id])
        try await store.release(left, to: .scheduled)
        #expect(try await prefetch.take([rows[1]]).map(\.id) == [ids[1].id])
    }

    @Test(arguments: StoreEngine.all) func enqueueClaimAndSendMovesThroughStates(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        let ids = try await store.enqueue([message(), message("+5511900000000")], now: 500)
        #expect(ids.map(\.duplicate) == [false, false])
        #expect(try await store.message(id: ids[0].id)?.state == .scheduled)

        let claimed = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
        #expect(claimed.map(\.id) == ids.map(\.id))
        #expect(try await store.message(id: ids[0].id)?.state == .inflight)
        // Claimed messages are not given out twice.
        #expect(try await store.claimDue(channel: "sms", now: 1_000, limit: 10).isEmpty)

        try await store.record([
            DeliveryOutcome(
                id: ids[0].id, channel: "sms", kind: .sent(providerID: "SM1"), at: 1_001, word: "delivered", detail: nil
            ),
            DeliveryOutcome(
                id: ids[1].id, channel: "sms", kind: .failed, at: 1_001, word: "failed", detail: "bad number"),
        ])
        let sent = try #require(try await store.message(id: ids[0].id))
        #expect(sent.state == .sent)
        #expect(sent.providerID == "SM1")
        #expect(sent.sentAt == 1_001)
        #expect(sent.attempts == [AttemptRecord(at: 1_001, outcome: "delivered", detail: nil)])
        let failed = try #require(try await store.message(id: ids[1].id))
        #expect(failed.state == .failed)
        #expect(failed.lastError == "bad number")

        let stats = store.stats()
        #expect(stats.total[.sent] == 1)
        #expect(stats.total[.failed] == 1)
        #expect(stats.total[.scheduled, default: 0] == 0)
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func nothingIsClaimedBeforeItsDueTime(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        _ = try await store.enqueue([message(due: 5_000)], now: 0)
        #expect(try await store.claimDue(channel: "sms", now: 4_999, limit: 10).isEmpty)
        let lane = QueueLane(priority: .normal, tenant: "acme")
        #expect(try await store.queueLanes(channel: "sms") == [lane])
        #expect(
            try await store.queued(channel: "sms", lane: lane, after: nil, dueBy: .max, limit: 1).map(\.dueAt) == [
                5_000
            ])
        #expect(try await store.claimDue(channel: "sms", now: 5_000, limit: 10).count == 1)
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func claimsOnlyTheAskedChannelOldestFirst(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        let late = try await store.enqueue([message(due: 300)], now: 0)[0].id
        let early = try await store.enqueue([message(due: 100)], now: 0)[0].id
        _ = try await store.enqueue([message(due: 50, channel: "email")], now: 0)
        let claimed = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
        #expect(claimed.map(\.id) == [early, late])
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func theSameIdempotencyKeyStoresOneMessage(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        let first = try await store.enqueue([message(key: "order-1")], now: 0)[0]
        let again = try await store.enqueue([message(key: "order-1")], now: 0)[0]
        #expect(first.duplicate == false)
        #expect(again == EnqueueResult(id: first.id, duplicate: true))
        // Within one batch too.
        let batch = try await store.enqueue([message(key: "order-2"), message(key: "order-2")], now: 0)
        #expect(batch[1] == EnqueueResult(id: batch[0].id, duplicate: true))
        // Keys are per tenant.
        var other = message(key: "order-1")
        other.tenant = "globex"
        #expect(try await store.enqueue([other], now: 0)[0].duplicate == false)
        #expect(store.stats().total[.scheduled] == 3)
        #expect(try await store.message(id: first.id)?.idempotencyKey == "order-1")
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func retryGoesBackToTheQueueAtItsNewTime(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        let id = try await store.enqueue([message()], now: 0)[0].id
        _ = try await store.claimDue(channel: "sms", now: 1_000, limit: 1)
        try await store.record([
            DeliveryOutcome(id: id, channel: "sms", kind: .retry(at: 61_000), at: 1_000, word: "retry", detail: "503")
        ])
        let m = try #require(try await store.message(id: id))
        #expect(m.state == .scheduled)
        #expect(m.dueAt == 61_000)
        #expect(m.attemptCount == 1)
        #expect(try await store.claimDue(channel: "sms", now: 60_999, limit: 1).isEmpty)
        let again = try await store.claimDue(channel: "sms", now: 61_000, limit: 1)
        #expect(again.map(\.attemptCount) == [1])
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func aDeferredTryKeepsTheAttemptCountButIsInTheHistory(engine: StoreEngine)
        async throws
    {
        let store = try engine.open(directory)
        let id = try await store.enqueue([message()], now: 0)[0].id
        _ = try await store.claimDue(channel: "sms", now: 1_000, limit: 1)
        try await store.record([
            DeliveryOutcome(
                id: id, channel: "sms", kind: .deferred(at: 5_000), at: 1_000, word: "unavailable", detail: "refused")
        ])
        _ = try await store.claimDue(channel: "sms", now: 5_000, limit: 1)
        try await store.record([
            DeliveryOutcome(
                id: id, channel: "sms", kind: .sent(providerID: "p"), at: 5_001, word: "delivered", detail: nil)
        ])
        let m = try #require(try await store.message(id: id))
        #expect(m.attemptCount == 1)
        #expect(m.attempts.map(\.outcome) == ["unavailable", "delivered"])
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func recordingTwiceChangesNothingTheSecondTime(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        let id = try await store.enqueue([message()], now: 0)[0].id
        _ = try await store.claimDue(channel: "sms", now: 1_000, limit: 1)
        let outcome = DeliveryOutcome(
            id: id, channel: "sms", kind: .sent(providerID: "a"), at: 1_000, word: "delivered", detail: nil)
        try await store.record([outcome])
        try await store.record([outcome])
        #expect(try await store.message(id: id)?.attempts.count == 1)
        #expect(store.stats().total[.sent] == 1)
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func inflightMessagesAreDueAgainAfterARestart(engine: StoreEngine) async throws {
        var store: (any QueueStore)? = try engine.open(directory)
        let ids = try await store!.enqueue([message(), message("+5511911111111")], now: 0).map(\.id)
        _ = try await store!.claimDue(channel: "sms", now: 1_000, limit: 10)
        await store!.close()
        store = nil

        let reopened = try engine.open(directory)
        #expect(reopened.stats().total[.inflight] == 2)
        #expect(try await reopened.recoverInflight() == 2)
        #expect(try await reopened.message(id: ids[0])?.state == .scheduled)
        #expect(reopened.stats().total[.scheduled] == 2)
        #expect(try await reopened.claimDue(channel: "sms", now: 1_000, limit: 10).map(\.id) == ids)
        await reopened.close()
    }

    /// Requests that come while the writer is busy wait together and are stored in one
    /// transaction (one commit, one sync of the log); each is answered with its own message.
    @Test(arguments: StoreEngine.all) func concurrentRequestsAreGroupedAndEachAnswered(engine: StoreEngine) async throws
    {
        let store = try engine.open(directory)
        let requests = 200
        // SQLite: the writer is held on a job of its own until every request waits behind it.
        // (PostgreSQL runs each write in its own transaction on a pool; the server groups commits.)
        let writer = (store as? SQLiteQueueStore)?.writer
        let release = DispatchSemaphore(value: 0)
        let holding = Locked(false)
        let holder = writer.map { writer in
            Task {
                try await writer.submit { _, _ in
                    holding.withLock { $0 = true }
                    release.wait()
                }
            }
        }
        if holder != nil { #expect(await eventually { holding.withLock { $0 } }) }
        let before = writer?.transactions ?? 0
        let answers = try await withThrowingTaskGroup(of: (Int, EnqueueResult).self) { group in
            for n in 0..<requests {
                group.addTask { (n, try await store.enqueue([message(key: "k\(n)")], now: 0)[0]) }
            }
            if let writer {
                #expect(await eventually { writer.waitingJobs == requests }, "\(writer.waitingJobs) waiting")
                release.signal()
            }
            return try await group.reduce(into: [Int: EnqueueResult]()) { $0[$1.0] = $1.1 }
        }
        try await holder?.value
        if let writer {
            // The holder's transaction, then one for all the requests (a group takes up to 1,000).
            let transactions = writer.transactions - before
            #expect(transactions == 2, "\(requests) requests in \(transactions - 1) transactions")
        }
        #expect(answers.count == requests)
        #expect(Set(answers.values.map(\.id)).count == requests)
        for (n, answer) in answers.sorted(by: { $0.key < $1.key }) {
            #expect(!answer.duplicate)
            let stored = try await store.message(id: answer.id)
            #expect(stored?.idempotencyKey == "k\(n)", "request \(n) was answered with another's message")
            #expect(stored?.state == .scheduled)
        }
        #expect(store.stats().total[.scheduled] == Int64(requests))
        await store.close()
    }

    @Test func aForeignDatabaseIsRefusedAndLeftAlone() throws {
        let db = try SQLiteConnection(path: path)
        try db.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY)")
        #expect {
            _ = try SQLiteQueueStore(path: path)
        } throws: { error in
            "\(error)".contains("not a leadd database")
        }
        #expect(try db.scalar("SELECT count(*) FROM sqlite_schema") == 1)
    }

    @Test func aCorruptFileIsRefused() throws {
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        #expect(throws: SQLiteError.self) { _ = try SQLiteQueueStore(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 0x41, count: 8192))
    }

    @Test(arguments: StoreEngine.all) func countsSurviveAReopen(engine: StoreEngine) async throws {
        var store: (any QueueStore)? = try engine.open(directory)
        _ = try await store!.enqueue([message(), message("+5511922222222")], now: 0)
        await store!.close()
        store = nil
        let reopened = try engine.open(directory)
        #expect(reopened.stats().byChannel["sms"]?[.scheduled] == 2)
        await reopened.close()
    }
}

extension QueueStoreTests {
    func killed(_ store: any QueueStore, _ messages: [NewMessage]) async throws -> [Int64] {
        let ids = try await store.enqueue(messages, now: 0).map(\.id)
        _ = try await store.claimDue(channel: "sms", now: 1_000, limit: 100)
        try await store.record(
            ids.map {
                DeliveryOutcome(id: $0, channel: "sms", kind: .dead, at: 1_000, word: "dead", detail: "503 again")
            })
        return ids
    }

    @Test(arguments: StoreEngine.all) func deadLettersCanBeListedRetriedOnceAndPurged(engine: StoreEngine) async throws
    {
        let store = try engine.open(directory)
        var other = message("+5511933333333")
        other.tenant = "globex"
        let ids = try await killed(store, [message(), other])
        #expect(store.stats().total[.dead] == 2)

        let all = try await store.deadLetters(DeadLetterFilter(), after: 0, limit: 10)
        #expect(all.map(\.id) == ids)
        #expect(
            try await store.deadLetters(DeadLetterFilter(tenant: "globex"), after: 0, limit: 10).map(\.id) == [ids[1]])
        #expect(try await store.deadLetters(DeadLetterFilter(error: "503"), after: 0, limit: 10).count == 2)
        #expect(try await store.deadLetters(DeadLetterFilter(error: "timeout"), after: 0, limit: 10).isEmpty)
        #expect(try await store.deadLetters(DeadLetterFilter(), after: ids[0], limit: 10).map(\.id) == [ids[1]])

        #expect(try await store.retryDeadLetters(DeadLetterFilter(ids: [ids[0]]), now: 2_000) == 1)
        #expect(try await store.retryDeadLetters(DeadLetterFilter(ids: [ids[0]]), now: 2_000) == 0)
        let retried = try #require(try await store.message(id: ids[0]))
        #expect(retried.state == .scheduled)
        #expect(retried.attemptCount == 0)
        #expect(retried.attempts.last?.outcome == "dlq-retry")
        #expect(try await store.claimDue(channel: "sms", now: 2_000, limit: 10).map(\.id) == [ids[0]])

        #expect(try await store.purgeDeadLetters(DeadLetterFilter(tenant: "globex"), now: 3_000) == 1)
        #expect(try await store.message(id: ids[1])?.state == .cancelled)
        let stats = store.stats().total
        #expect(stats[.dead, default: 0] == 0)
        #expect(stats[.cancelled] == 1)
        #expect(stats[.inflight] == 1)
        await store.close()
    }
}

@Suite struct CampaignStoreTests {
    let directory = temporaryDirectory()

    func lead(_ key: String, due: Int64 = 1_000) -> PreparedLead {
        var m = NewMessage(
            tenant: "acme", channel: "sms", to: key, contentJSON: #"{"text":"hi"}"#, dueAt: due,
            idempotencyKey: "campaign:c1:lead:\(key):step:1")
        m.campaign = "c1"
        m.step = 1
        return PreparedLead(lead: Lead(key: key, phone: key), messages: [m])
    }

    @Test(arguments: StoreEngine.all) func reimportingAddsNothing(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        _ = try await store.createCampaign(Campaign(id: "c1", tenant: "acme", name: "c", steps: []), now: 0)
        let first = try await store.importLeads(campaign: "c1", [lead("+1"), lead("+2")], now: 0)
        #expect(first.allSatisfy { if case .accepted(_, 1) = $0 { true } else { false } })
        let again = try await store.importLeads(campaign: "c1", [lead("+1"), lead("+3")], now: 0)
        #expect(again.map { if case .duplicate = $0 { "dup" } else { "new" } } == ["dup", "new"])
        #expect(store.stats().total[.scheduled] == 3)
        await #expect(throws: CampaignStoreError.self) {
            try await store.createCampaign(Campaign(id: "c1", tenant: "acme", name: "c", steps: []), now: 0)
        }
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func pauseHoldsResumeRequeuesAndCancelEnds(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        _ = try await store.createCampaign(Campaign(id: "c1", tenant: "acme", name: "c", steps: []), now: 0)
        _ = try await store.importLeads(campaign: "c1", (1...5).map { lead("+\($0)", due: Int64($0) * 100) }, now: 0)
        let sent = try await store.claimDue(channel: "sms", now: 100, limit: 1)
        #expect(sent.count == 1)
        #expect(try await store.setCampaignState(id: "c1", to: .paused, now: 200) == 4)
        #expect(try await store.claimDue(channel: "sms", now: 10_000, limit: 10).isEmpty)
        #expect(store.stats().total[.paused] == 4)
        // Leads imported while paused wait with the campaign.
        _ = try await store.importLeads(campaign: "c1", [lead("+6", due: 600)], now: 0)
        #expect(store.stats().total[.paused] == 5)
        #expect(try await store.setCampaignState(id: "c1", to: .active, now: 300) == 5)
        // Exactly where it stopped: the four left and the new one, each at its own due time.
        let resumed = try await store.claimDue(channel: "sms", now: 10_000, limit: 10)
        #expect(resumed.map(\.dueAt) == [200, 300, 400, 500, 600])
        _ = try await store.importLeads(campaign: "c1", [lead("+7"), lead("+8")], now: 0)
        #expect(try await store.setCampaignState(id: "c1", to: .cancelled, now: 400) == 2)
        #expect(try await store.claimDue(channel: "sms", now: 10_000, limit: 10).isEmpty)
        await #expect(throws: CampaignStoreError.self) {
            try await store.setCampaignState(id: "c1", to: .active, now: 500)
        }
        let counts = try await store.campaignCounts(id: "c1")
        #expect(counts[.cancelled] == 2)
        #expect(counts[.inflight] == 6)
        await store.close()
    }

    @Test(arguments: StoreEngine.all) func tenantsAndSuppressionsRoundTrip(engine: StoreEngine) async throws {
        let store = try engine.open(directory)
        var t = Tenant(id: "acme")
        t.country = "BR"
        t.rate = Rate(count: 10, per: .seconds(1))
        t.weight = 3
        let stored = try await store.putTenant(t, now: 5)
        #expect(try await store.tenant(id: "acme") == stored)
        #expect(try await store.addSuppression(tenant: "acme", address: "+1", reason: "STOP", now: 1))
        #expect(!(try await store.addSuppression(tenant: "acme", address: "+1", reason: nil, now: 2)))
        #expect(try await store.suppressions(tenant: "acme", after: ("acme", ""), limit: 10).map(\.address) == ["+1"])
        #expect(try await store.removeSuppression(tenant: "acme", address: "+1"))
        await store.close()
    }
}

@Suite struct SchemaUpgradeTests {
    /// A database as a release with the first `version` migrations left it.
    static func database(at path: String, version: Int) throws -> SQLiteConnection {
        let db = try SQLiteConnection(path: path)
        for sql in Schema.migrations.prefix(version) { try db.execute(sql) }
        try db.execute("PRAGMA application_id = \(Schema.applicationID)")
        try db.execute("PRAGMA user_version = \(version)")
        return db
    }

    @Test func aQueueFromSchemaTwoIsKeptAndSentAfterTheUpgrade() async throws {
        let path = temporaryDirectory() + "/v2.db"
        // A database as the previous release left it: migrations 1 and 2, one queued message.
        do {
            let db = try Self.database(at: path, version: 2)
            try db.execute(
                """
                INSERT INTO messages(id, tenant, channel, recipient, content, priority, state, due_at, created_at)
                VALUES (7, 'acme', 'sms', '+5511987654321', '{"text":"old"}', 1, 0, 1000, 1000);
                INSERT INTO queue(channel, due_at, id) VALUES ('sms', 1000, 7);
                INSERT INTO counts VALUES ('sms', 0, 1);
                """)
        }
        let store = try SQLiteQueueStore(path: path)
        #expect(try await store.queueLanes(channel: "sms") == [QueueLane(priority: .normal, tenant: "acme")])
        let claimed = try await store.claimDue(channel: "sms", now: 2_000, limit: 10)
        #expect(claimed.map(\.id) == [7])
        #expect(claimed.first?.contentJSON == #"{"text":"old"}"#)
        _ = try await store.putTenant(Tenant(id: "acme"), now: 3_000)
        await store.close()
    }
}

extension SchemaUpgradeTests {
    @Test func aQueueFromSchemaSixIsKeptLaneByLaneAfterTheUpgrade() async throws {
        let path = temporaryDirectory() + "/v6.db"
        do {
            let db = try Self.database(at: path, version: 6)
            try db.execute(
                """
                INSERT INTO messages(id, tenant, channel, recipient, content, priority, state, due_at, created_at,
                                     timezone, campaign)
                VALUES (1, 'acme', 'sms', '+5511900000001', '{"text":"a"}', 1, 0, 1000, 0, NULL, NULL),
                       (2, 'acme', 'sms', '+5511900000002', '{"text":"b"}', 1, 0, 900, 0, 'Europe/Lisbon', 'spring'),
                       (3, 'acme', 'sms', '+5511900000003', '{"text":"c"}', 1, 0, 800, 0, NULL, NULL);
                INSERT INTO queue(channel, priority, tenant, zone, campaign, due_at, id)
                VALUES ('sms', 1, 'acme', '', '', 1000, 1), ('sms', 1, 'acme', 'Europe/Lisbon', 'spring', 900, 2),
                       ('sms', 1, 'acme', '', '', 800, 3);
                INSERT INTO counts VALUES ('sms', 0, 3);
                """)
        }
        let store = try SQLiteQueueStore(path: path)
        let plain = QueueLane(priority: .normal, tenant: "acme")
        let spring = QueueLane(priority: .normal, tenant: "acme", zone: "Europe/Lisbon", campaign: "spring")
        #expect(try await store.queueLanes(channel: "sms") == [plain, spring])
        #expect(
            try await store.queued(channel: "sms", lane: plain, after: nil, dueBy: .max, limit: 10).map(\.id) == [3, 1])
        #expect(
            try await store.queued(channel: "sms", lane: spring, after: nil, dueBy: .max, limit: 10).map(\.id) == [2])
        let claimed = try await store.claimDue(channel: "sms", now: 2_000, limit: 10)
        #expect(Set(claimed.map(\.id)) == [1, 2, 3])
        #expect(try await store.claimDue(channel: "sms", now: 2_000, limit: 10).isEmpty)
        await store.close()
    }
}

@Suite struct FeedbackStoreTests {
    let directory = temporaryDirectory()

    func sent(_ store: any QueueStore, to: String, provider: String) async throws -> Int64 {
        let id = try await store.enqueue(
            [NewMessage(tenant: "acme", channel: "sms", to: to, contentJSON: #"{"text":"hi"}"#, dueAt: 1_000)], now: 0
        )[0].id
        _ = try await store.claimDue(channel: "sms", now: 1_000, limit: 10)
        try await store.record([
            DeliveryOutcome(
                id: id, channel: "sms", kind: .sent(providerID: provider), at: 1_100, word: "sent", detail: nil)
        ])
        return id
    }

    @Test(arguments: StoreEngine.all) func receiptsMoveForwardOnlyAndOptOutsCancelWhatWaits(engine: StoreEngine)
        async throws
    {
        let store = try engine.open(directory)
        let id = try await sent(store, to: "+5511900000001", provider: "SM1")
        let read = try await store.applyReceipt(
            Receipt(target: .provider(channel: "sms", id: "SM1"), status: .read, at: 1_200, detail: "read"))
        #expect(read?.id == id)
        #expect(read?.state == .read)
        // "delivered" after "read" is kept in the history but does not move the message back.
        _ = try await store.applyReceipt(Receipt(target: .message(id), status: .delivered, at: 1_300, detail: nil))
        let message = try #require(try await store.message(id: id))
        #expect(message.state == .read)
        #expect(message.attempts.map(\.outcome).suffix(2).count == 2)
        #expect(
            try await store.applyReceipt(
                Receipt(target: .provider(channel: "sms", id: "nope"), status: .read, at: 1, detail: nil)) == nil)
        #expect(try await store.lastSender(to: "+5511900000001", channel: "sms") == "acme")

        // An opt-out suppresses the address and cancels its waiting messages, not the sent one.
        let waiting = try await store.enqueue(
            [
                NewMessage(
                    tenant: "acme", channel: "sms", to: "+5511900000001", contentJSON: #"{"text":"again"}"#,
                    dueAt: 9_000)
            ], now: 0)[0].id
        #expect(try await store.optOut(tenant: "acme", address: "+5511900000001", reason: "STOP", now: 2_000) == 1)
        #expect(try await store.message(id: waiting)?.state == .cancelled)
        #expect(try await store.message(id: id)?.state == .read)
        #expect(try await store.claimDue(channel: "sms", now: 10_000, limit: 10).isEmpty)
        #expect(
            try await store.suppressions(tenant: "acme", after: ("", ""), limit: 10).map(\.address) == [
                "+5511900000001"
            ])

        var sender = Sender(id: "twilio-main", channel: "sms")
        sender.settingsJSON = #"{"from":"+15550001"}"#
        sender.concurrency = 3
        let stored = try await store.putSender(sender, now: 5)
        #expect(stored.createdAt == 5)
        #expect(try await store.senders(after: "", limit: 10).map(\.id) == ["twilio-main"])
        #expect(try await store.senders(after: "", limit: 10).first?.concurrency == 3)
        await store.close()
    }
}

/// Default idempotency keys never repeat across databases: a store recreated from scratch
/// hands out ids from 1 again, and its keys must not match the messages of the one before.
@Suite struct DefaultKeyTests {
    func key(_ store: any QueueStore) async throws -> String {
        let ids = try await store.enqueue(
            [
                NewMessage(
                    tenant: "acme", channel: "sms", to: "+5511987654321", contentJSON: #"{"text":"hi"}"#, dueAt: 1_000,
                    idempotencyKey: nil)
            ], now: 500)
        return try #require(try await store.message(id: ids[0].id)?.idempotencyKey)
    }

    @Test(arguments: StoreEngine.all) func twoNewDatabasesHandOutDifferentKeys(engine: StoreEngine) async throws {
        let first = temporaryDirectory("first")
        let second = temporaryDirectory("second")
        let a = try engine.open(first)
        let b = try engine.open(second)
        let keyA = try await key(a)
        let keyB = try await key(b)
        #expect(keyA.hasPrefix("leadd-") && keyB.hasPrefix("leadd-"))
        #expect(keyA != keyB, "\(keyA) repeats in another database")
        await a.close()
        await b.close()
        // The key stays the same for the life of the database.
        let again = try engine.open(first)
        let keyAgain = try #require(try await again.message(id: 1)?.idempotencyKey)
        #expect(keyAgain == keyA)
        await again.close()
    }

    /// A database from before keys had a prefix keeps the keys its messages were sent with.
    @Test func anUpgradedDatabaseKeepsItsKeys() async throws {
        let path = temporaryDirectory() + "/v7.db"
        do {
            let db = try SchemaUpgradeTests.database(at: path, version: 7)
            try db.execute(
                """
                INSERT INTO messages(id, tenant, channel, recipient, content, priority, state, due_at, created_at)
                VALUES (5, 'acme', 'sms', '+5511987654321', '{"text":"old"}', 1, 0, 1000, 1000);
                """)
        }
        let store = try SQLiteQueueStore(path: path)
        #expect(try await store.message(id: 5)?.idempotencyKey == "leadd-5")
        await store.close()
    }
}

/// The in-memory counts are refreshed from the database (PostgreSQL, several nodes) only when no
/// commit was under way while it read: a commit read there and then applied here would be
/// counted twice (seen as 5 scheduled messages for 3 under load).
@Suite struct CountsRefreshTests {
    let key = CommitEffects.Key(channel: "sms", state: .scheduled)

    @Test func aRefreshOverlappingACommitIsLeftForTheNextOne() {
        let counts = CountsCache([key: 2])
        var committed = CommitEffects()
        committed.move("sms", from: nil, to: .scheduled)
        // A commit is sent; the refresh reads the database, which already holds it.
        counts.commitStarting()
        counts.refresh { [key] in [key: 3] }
        counts.apply(committed)
        counts.commitEnded()
        #expect(counts.stats().total[.scheduled] == 3)
        // A commit that starts and ends while the refresh reads.
        counts.refresh { [key] in
            counts.commitStarting()
            counts.apply(committed)
            counts.commitEnded()
            return [key: 3]
        }
        #expect(counts.stats().total[.scheduled] == 4)
        // Nothing under way: the database's figure is taken (another node's changes arrive so).
        counts.refresh { [key] in [key: 7] }
        #expect(counts.stats().total[.scheduled] == 7)
    }
}
