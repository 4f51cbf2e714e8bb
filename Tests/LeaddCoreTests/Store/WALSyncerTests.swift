import Foundation
import LeaddSync
import Testing

@testable import LeaddCore

/// The store answers a write only once the log is synced, off the writer's thread.
@Suite struct WALSyncerTests {
    /// A job submitted as if its transaction had committed, answered by `syncer`.
    func answer(_ syncer: WALSyncer, effects: CommitEffects = CommitEffects()) async -> (any Error)? {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let job = SQLiteJobBox<Void>(body: { _, _ in }, continuation: continuation)
                job.result = ()
                syncer.submit(WALSyncer.Commit(jobs: [job], errors: [nil], effects: effects))
            }
            return nil
        } catch {
            return error
        }
    }

    /// A job that tells `answered` of its answer, on the thread that gives it.
    final class WatchedJob: SQLiteJob {
        let answered: ((any Error)?) -> Void
        init(answered: @escaping ((any Error)?) -> Void) { self.answered = answered }
        func run(_ connection: SQLiteConnection, _ deltas: inout CommitEffects) throws {}
        func finish(_ error: (any Error)?) { answered(error) }
    }

    /// What the syncer did, in order, each with how many syncs of the log had succeeded by then.
    struct Step: Equatable, CustomStringConvertible {
        var what: String
        var syncs: Int
        var description: String { "\(what) after \(syncs) syncs" }
    }

    @Test func aJobIsAnsweredAfterTheSyncAndItsEffectsAreApplied() async throws {
        let wal = temporaryDirectory() + "/leadd.db-wal"
        #expect(FileManager.default.createFile(atPath: wal, contents: Data("frames".utf8)))
        let steps = Locked<[Step]>([])
        let syncerBox = Locked<WALSyncer?>(nil)
        let note: @Sendable (String) -> Void = { what in
            let syncs = syncerBox.withLock { $0?.syncs ?? -1 }
            steps.withLock { $0.append(Step(what: what, syncs: syncs)) }
        }
        let syncer = WALSyncer(walPath: wal) { effects in note("effects \(effects.changes.count)") }
        syncerBox.withLock { $0 = syncer }
        /// Submits a commit of one job, as the writer does, and waits for its answer.
        func commit(_ effects: CommitEffects) async -> (any Error)? {
            await withCheckedContinuation { (answer: CheckedContinuation<(any Error)?, Never>) in
                let job = WatchedJob { error in
                    note("answer")
                    answer.resume(returning: error)
                }
                syncer.submit(WALSyncer.Commit(jobs: [job], errors: [nil], effects: effects))
            }
        }
        var effects = CommitEffects()
        effects.move("sms", from: .scheduled, to: .inflight)
        #expect(await commit(effects) == nil)
        // The log was synced before the commit was published and answered, and the answer came
        // once its effects were applied.
        #expect(steps.withLock { $0 } == [Step(what: "effects 2", syncs: 1), Step(what: "answer", syncs: 1)])
        // A log replaced by another file (another inode) is opened again, and synced.
        try FileManager.default.removeItem(atPath: wal)
        #expect(FileManager.default.createFile(atPath: wal, contents: Data()))
        #expect(await commit(CommitEffects()) == nil)
        #expect(
            steps.withLock { Array($0.dropFirst(2)) } == [
                Step(what: "effects 0", syncs: 2), Step(what: "answer", syncs: 2),
            ])
        syncer.stop()
    }

    @Test func aLogThatCannotBeSyncedFailsTheJobsWithItsPath() async throws {
        let wal = temporaryDirectory() + "/missing/leadd.db-wal"
        let syncer = WALSyncer(walPath: wal) { _ in }
        let error = await answer(syncer)
        #expect("\(error.map { "\($0)" } ?? "")".contains(wal))
        syncer.stop()
    }
}

/// A disk error never leaves jobs answered one way and stored the other.
@Suite struct StoreFailureTests {
    func answer(_ syncer: WALSyncer, effects: CommitEffects = CommitEffects()) async -> (any Error)? {
        await WALSyncerTests().answer(syncer, effects: effects)
    }

    /// After a failed sync nothing is answered as durable and nothing is handed on, even once
    /// the log could be synced again: what the process holds may not be on disk.
    @Test func aFailedSyncStopsEveryLaterCommit() async throws {
        let directory = temporaryDirectory() + "/missing"
        let wal = directory + "/leadd.db-wal"
        let applied = Locked(0)
        let stopped = Locked<String?>(nil)
        let failStop = FailStop()
        failStop.onFailure { reason in stopped.withLock { $0 = reason } }
        let syncer = WALSyncer(walPath: wal, failStop: failStop) { _ in applied.withLock { $0 += 1 } }
        var effects = CommitEffects()
        effects.move("sms", from: .scheduled, to: .inflight)
        let first = await answer(syncer, effects: effects)
        #expect("\(first.map { "\($0)" } ?? "")".contains("unknown"))
        #expect(stopped.withLock { $0 }?.contains(wal) == true)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: wal, contents: Data("frames".utf8)))
        #expect(await answer(syncer, effects: effects) != nil)
        #expect(applied.withLock { $0 } == 0, "a commit was handed on after the disk failed a sync")
        syncer.stop()
    }

    /// A job that ends the group's transaction (as SQLite does by itself after SQLITE_FULL or an
    /// I/O error) fails the whole group: the jobs after it are not run in autocommit and stored
    /// while answered as failed.
    @Test func aTransactionLostMidGroupFailsTheWholeGroup() async throws {
        let path = temporaryDirectory() + "/w.db"
        let setup = try SQLiteConnection(path: path)
        try setup.execute("CREATE TABLE t(x INTEGER)")
        try setup.execute("CREATE TABLE counts(channel TEXT, state INTEGER, n INTEGER, PRIMARY KEY (channel, state))")
        let worker = SQLiteWorker(
            name: "test-writer", connection: try SQLiteConnection(path: path),
            mode: .grouped(maxJobs: 100, journals: [], syncing: nil, afterCommit: { _ in }))
        // The first job holds the thread until the next three wait, in order, so they run as one group.
        let release = DispatchSemaphore(value: 0)
        let running = Locked(false)
        let holder = Task {
            try await worker.submit { _, _ in
                running.withLock { $0 = true }
                release.wait()
            }
        }
        while !running.withLock({ $0 }) { await Task.yield() }
        let bodies: [@Sendable (SQLiteConnection) throws -> Void] = [
            { db in try db.execute("INSERT INTO t VALUES (1)") },
            { db in
                try db.execute("ROLLBACK")
                throw SQLiteError(code: 13, message: "database or disk is full")
            },
            { db in try db.execute("INSERT INTO t VALUES (3)") },
        ]
        var jobs: [Task<Bool, Never>] = []
        for (index, body) in bodies.enumerated() {
            jobs.append(Task { (try? await worker.submit { db, _ in try body(db) }) != nil })
            while worker.waitingJobs < index + 1 { await Task.yield() }
        }
        release.signal()
        try await holder.value
        var results: [Bool] = []
        for job in jobs { results.append(await job.value) }
        #expect(results == [false, false, false], "\(results)")
        let rows = try setup.scalar("SELECT count(*) FROM t")
        #expect(rows == 0, "\(rows ?? -1) rows stored by jobs that were answered as failed")
        worker.stop()
    }
}

/// A request is answered once its commit is durable, whatever the schedulers are doing.
@Suite struct WriterAnswerTests {
    /// A scheduler busy with its lane (here: held on purpose) learns of the new rows after the
    /// answer, not before it: the answer does not wait on the scheduler's lock.
    @Test func anAnswerDoesNotWaitForTheSchedulers() async throws {
        let store = try SQLiteQueueStore(path: temporaryDirectory() + "/leadd.db")
        let release = DispatchSemaphore(value: 0)
        let told = Locked(0)
        store.observeQueue { _ in
            told.withLock { $0 += 1 }
            release.wait()
        }
        let answered = Locked(false)
        let send = Task {
            _ = try await store.enqueue(
                [
                    NewMessage(
                        tenant: "acme", channel: "sms", to: "+5511987654321", contentJSON: #"{"text":"hi"}"#,
                        dueAt: 1_000, idempotencyKey: "k")
                ], now: 500)
            answered.withLock { $0 = true }
        }
        // Generous: a busy test run can hold the pool's threads for seconds; held back on the
        // scheduler, the answer never comes at all.
        let deadline = Date().addingTimeInterval(60)
        while !(answered.withLock { $0 } && told.withLock { $0 } == 1) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(answered.withLock { $0 }, "the request waited for a scheduler")
        #expect(told.withLock { $0 } == 1, "the scheduler was not told of the new row")
        release.signal()
        try await send.value
        await store.close()
    }
}
