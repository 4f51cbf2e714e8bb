// Makes committed transactions durable on a thread of its own, so the writer never waits for
// the disk. The writer commits without a sync (`synchronous = NORMAL`) and hands each commit's
// jobs here; this thread syncs the log once for every commit waiting, then answers their jobs.
// A job is still answered only once its transaction is on disk, as with `synchronous = FULL`,
// but the writer builds the next transaction while the disk works, and one sync covers several
// commits. The log is written in order and its frames are checksummed in a chain, so after a
// power loss SQLite recovers a prefix of the commits: never a later one without an earlier one.
import Foundation
import Synchronization

final class WALSyncer: @unchecked Sendable {
    struct Commit {
        var jobs: [any SQLiteJob]
        var errors: [(any Error)?]
        var effects: CommitEffects
    }

    private let waiting = ThreadQueue<Commit>()

    private let walPath: String
    private let afterSync: @Sendable (CommitEffects) -> Void
    /// Run once a commit's jobs are answered (announcing queued rows to the schedulers), so an
    /// answer never waits on a scheduler's lock.
    private let afterAnswer: (@Sendable (CommitEffects) -> Void)?
    private let failStop: FailStop
    /// The log's descriptor and inode: reopened if SQLite ever replaces the file. Syncer thread only.
    private var descriptor: Int32 = -1
    private var inode: ino_t = 0
    /// Syncs of the log that succeeded, so tests can see that an answer came after one.
    private let completedSyncs = Atomic<Int>(0)
    var syncs: Int { completedSyncs.load(ordering: .acquiring) }

    init(
        walPath: String, failStop: FailStop = FailStop(), afterAnswer: (@Sendable (CommitEffects) -> Void)? = nil,
        afterSync: @escaping @Sendable (CommitEffects) -> Void
    ) {
        self.walPath = walPath
        self.failStop = failStop
        self.afterAnswer = afterAnswer
        self.afterSync = afterSync
        let thread = Thread { [self] in self.loop() }
        thread.name = "leadd-store-sync"
        thread.start()
    }

    /// Hands over a commit; the writer stops before its syncer, so it is never refused.
    func submit(_ commit: Commit) {
        let taken = waiting.push(commit)
        precondition(taken, "a commit handed to a stopped WAL syncer")
    }

    /// Syncs and answers what was submitted, then stops the thread.
    func stop() {
        waiting.stop()
        if descriptor >= 0 { close(descriptor) }
    }

    private func loop() {
        while let commits = waiting.take() {
            if failStop.reason == nil, let failure = sync() { failStop.fail(failure.message) }
            // Once a sync has failed nothing is answered as durable, and nothing committed since is
            // handed on (no message of such a commit is sent by this process).
            if let stopped = failStop.error {
                for commit in commits { for job in commit.jobs { job.finish(stopped) } }
                continue
            }
            for commit in commits {
                afterSync(commit.effects)
                for (job, error) in zip(commit.jobs, commit.errors) { job.finish(error) }
            }
            if let afterAnswer { for commit in commits { afterAnswer(commit.effects) } }
        }
    }

    /// fdatasync of the log; an error when the disk could not keep it.
    private func sync() -> SQLiteError? {
        var status = stat()
        if stat(walPath, &status) != 0 || status.st_ino != inode || descriptor < 0 {
            if descriptor >= 0 { close(descriptor) }
            descriptor = open(walPath, O_RDONLY | O_CLOEXEC)
            inode = status.st_ino
        }
        guard descriptor >= 0 else {
            return SQLiteError(
                code: 10, message: "cannot open \(walPath) to sync it: \(String(cString: strerror(errno)))")
        }
        guard fdatasync(descriptor) == 0 else {
            return SQLiteError(code: 10, message: "cannot sync \(walPath): \(String(cString: strerror(errno)))")
        }
        completedSyncs.add(1, ordering: .releasing)
        return nil
    }
}
