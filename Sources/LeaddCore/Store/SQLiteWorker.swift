// A thread that owns one SQLite connection and runs jobs on it, so blocking SQLite calls never
// occupy Swift's cooperative thread pool. A writer worker groups every job waiting when it wakes
// into one transaction (group commit): many concurrent requests, one fsync.
import Foundation
import Synchronization

/// What a job changed: message counts (applied to the `counts` table in the same transaction)
/// and rows added to the queue.
struct CommitEffects {
    struct Key: Hashable {
        var channel: String
        var state: MessageState
    }

    var changes: [Key: Int64] = [:]
    /// Rows that entered the queue, announced to the schedulers once committed.
    var queued: [QueuedRow] = []

    mutating func move(_ channel: String, from: MessageState?, to: MessageState?, count: Int64 = 1) {
        guard count != 0 else { return }
        if let from { changes[Key(channel: channel, state: from), default: 0] -= count }
        if let to { changes[Key(channel: channel, state: to), default: 0] += count }
    }

    mutating func merge(_ other: CommitEffects) {
        for (key, n) in other.changes { changes[key, default: 0] += n }
        queued.append(contentsOf: other.queued)
    }
}

/// State kept beside the database that must commit or roll back with its transaction.
protocol TransactionJournal: Sendable {
    /// A point to roll back to (taken before each job).
    func mark() -> Int
    func rollback(to mark: Int)
    func commit()
}

protocol SQLiteJob: AnyObject {
    func run(_ connection: SQLiteConnection, _ deltas: inout CommitEffects) throws
    func finish(_ error: (any Error)?)
}

final class SQLiteJobBox<T: Sendable>: SQLiteJob {
    let body: (SQLiteConnection, inout CommitEffects) throws -> T
    let continuation: CheckedContinuation<T, any Error>
    var result: T?

    init(
        body: @escaping (SQLiteConnection, inout CommitEffects) throws -> T,
        continuation: CheckedContinuation<T, any Error>
    ) {
        self.body = body
        self.continuation = continuation
    }

    func run(_ connection: SQLiteConnection, _ deltas: inout CommitEffects) throws {
        result = try body(connection, &deltas)
    }

    func finish(_ error: (any Error)?) {
        if let error {
            continuation.resume(throwing: error)
        } else {
            continuation.resume(returning: result!)
        }
    }
}

final class SQLiteWorker: @unchecked Sendable {
    enum Mode {
        /// Each job alone, no transaction of its own (reads).
        case single
        /// Waiting jobs grouped into one transaction; `afterCommit` sees the merged count changes
        /// before the jobs are answered, `afterAnswer` after (announcements to the schedulers).
        /// With `syncing`, the connection commits without a sync and that log is synced on a
        /// thread of its own before the jobs are answered (see WALSyncer).
        case grouped(
            maxJobs: Int, journals: [any TransactionJournal], syncing: String?,
            afterCommit: @Sendable (CommitEffects) -> Void, afterAnswer: (@Sendable (CommitEffects) -> Void)? = nil)
    }

    private let jobs = ThreadQueue<any SQLiteJob>()
    private let mode: Mode
    private let connection: SQLiteConnection
    private let syncer: WALSyncer?
    /// Set when the disk failed a sync: the worker then runs no more transactions.
    let failStop: FailStop
    /// Group transactions committed, so tests can see that concurrent jobs shared one.
    private let committed = Atomic<Int>(0)
    var transactions: Int { committed.load(ordering: .acquiring) }

    /// Run on the worker's thread between two transactions, with no transaction open.
    private let betweenTransactions: (@Sendable (SQLiteConnection) -> Void)?

    init(
        name: String, connection: SQLiteConnection, mode: Mode, failStop: FailStop = FailStop(),
        betweenTransactions: (@Sendable (SQLiteConnection) -> Void)? = nil
    ) {
        self.connection = connection
        self.mode = mode
        self.failStop = failStop
        self.betweenTransactions = betweenTransactions
        if case .grouped(_, _, let wal?, let afterCommit, let afterAnswer) = mode {
            syncer = WALSyncer(walPath: wal, failStop: failStop, afterAnswer: afterAnswer, afterSync: afterCommit)
        } else {
            syncer = nil
        }
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    func submit<T: Sendable>(_ body: @escaping (SQLiteConnection, inout CommitEffects) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            guard jobs.push(SQLiteJobBox(body: body, continuation: continuation)) else {
                continuation.resume(throwing: SQLiteError(code: 21, message: "the store is closed"))
                return
            }
        }
    }

    /// Jobs submitted and not yet taken by the thread.
    var waitingJobs: Int { jobs.waiting }

    /// Runs the jobs already submitted, then stops the thread.
    func stop() {
        jobs.stop()
        syncer?.stop()
    }

    private func loop() {
        BulkThread.markCurrent()
        let limit: Int
        switch mode {
        case .single: limit = 1
        case .grouped(let maxJobs, _, _, _, _): limit = maxJobs
        }
        while let batch = jobs.take(limit: limit) {
            switch mode {
            case .single: runAlone(batch[0])
            case .grouped(_, let journals, _, let afterCommit, let afterAnswer):
                runGrouped(batch, journals: journals, afterCommit: afterCommit, afterAnswer: afterAnswer)
            }
            betweenTransactions?(connection)
        }
    }

    private func runAlone(_ job: any SQLiteJob) {
        var ignored = CommitEffects()
        do {
            try job.run(connection, &ignored)
            job.finish(nil)
        } catch {
            job.finish(error)
        }
    }

    private func runGrouped(
        _ batch: [any SQLiteJob], journals: [any TransactionJournal], afterCommit: @Sendable (CommitEffects) -> Void,
        afterAnswer: (@Sendable (CommitEffects) -> Void)?
    ) {
        if let stopped = failStop.error {
            for job in batch { job.finish(stopped) }
            return
        }
        var total = CommitEffects()
        var errors: [(any Error)?] = Array(repeating: nil, count: batch.count)
        do {
            try connection.execute("BEGIN IMMEDIATE")
        } catch {
            for job in batch { job.finish(error) }
            return
        }
        for (index, job) in batch.enumerated() {
            // Each job in its own savepoint: one bad request must not undo its neighbours.
            var deltas = CommitEffects()
            let marks = journals.map { $0.mark() }
            do {
                try connection.execute("SAVEPOINT job")
                try job.run(connection, &deltas)
                try connection.execute("RELEASE job")
                total.merge(deltas)
            } catch {
                errors[index] = error
                // After SQLITE_FULL, IOERR or NOMEM SQLite may have rolled back the whole
                // transaction: the savepoints are gone, and the jobs after this one would each
                // commit on their own while the group is answered as failed. Fail the whole group.
                guard connection.inTransaction else {
                    for journal in journals { journal.rollback(to: 0) }
                    for job in batch { job.finish(error) }
                    return
                }
                for (journal, mark) in zip(journals, marks) { journal.rollback(to: mark) }
                try? connection.execute("ROLLBACK TO job")
                try? connection.execute("RELEASE job")
            }
        }
        do {
            try applyCounts(total)
            try connection.execute("COMMIT")
            committed.add(1, ordering: .releasing)
        } catch {
            try? connection.execute("ROLLBACK")
            for journal in journals { journal.rollback(to: 0) }
            for job in batch { job.finish(error) }
            return
        }
        for journal in journals { journal.commit() }
        if let syncer {
            syncer.submit(WALSyncer.Commit(jobs: batch, errors: errors, effects: total))
            return
        }
        afterCommit(total)
        for (index, job) in batch.enumerated() { job.finish(errors[index]) }
        afterAnswer?(total)
    }

    private func applyCounts(_ deltas: CommitEffects) throws {
        let statement = try connection.statement(
            "INSERT INTO counts(channel, state, n) VALUES (?, ?, ?) ON CONFLICT(channel, state) DO UPDATE SET n = n + excluded.n"
        )
        for (key, n) in deltas.changes where n != 0 {
            statement.reset()
            statement.bind(1, key.channel)
            statement.bind(2, Int64(key.state.rawValue))
            statement.bind(3, n)
            try statement.run()
        }
    }
}
