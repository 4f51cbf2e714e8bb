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

    @Test func aJobIsAnsweredAfterTheSyncAndItsEffectsAreApplied() async throws {
        let wal = temporaryDirectory() + "/leadd.db-wal"
        #expect(FileManager.default.createFile(atPath: wal, contents: Data("frames".utf8)))
        let applied = Locked(0)
        let syncer = WALSyncer(walPath: wal) { effects in applied.withLock { $0 += effects.changes.count } }
        var effects = CommitEffects()
        effects.move("sms", from: .scheduled, to: .inflight)
        #expect(await answer(syncer, effects: effects) == nil)
        #expect(applied.withLock { $0 } == 2)
        // A log replaced by another file (another inode) is opened again.
        try FileManager.default.removeItem(atPath: wal)
        #expect(FileManager.default.createFile(atPath: wal, contents: Data()))
        #expect(await answer(syncer) == nil)
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
