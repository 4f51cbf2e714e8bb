// Copies the write-ahead log back into the database file on a thread of its own. Left to
// SQLite, the commit that crosses the auto-checkpoint threshold does this itself, holding up
// every job grouped behind it (measured: 1 in 100 commits took 13-20 ms instead of 0.04 ms at
// 10,000 msgs/s, and claims waiting behind them made sends late). A passive checkpoint on
// another connection takes no lock the writer waits for; the writer keeps a far higher
// threshold of its own only as a backstop in case this thread falls behind.
import Foundation
import Synchronization

final class SQLiteCheckpointer: @unchecked Sendable {
    /// The writer's own threshold, in pages (4 KiB each): a backstop, not the normal path.
    static let writerThreshold = 50_000

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var stopping = false
    private var finished = false

    private let connection: SQLiteConnection
    private let interval: TimeInterval

    /// The log's length, in frames, past which the writer is asked to finish a checkpoint.
    private let restartFrames: Int64

    init(path: String, interval: TimeInterval = 0.2, restartFrames: Int64 = SQLiteCheckpointer.restartFrames) throws {
        connection = try SQLiteConnection(path: path)
        self.interval = interval
        self.restartFrames = restartFrames
        let thread = Thread { [self] in self.loop() }
        thread.name = "leadd-store-checkpointer"
        thread.start()
    }

    private func loop() {
        BulkThread.markCurrent()
        while true {
            condition.lock()
            if !stopping { _ = condition.wait(until: Date().addingTimeInterval(interval)) }
            if stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            condition.unlock()
            // A failure (disk full, a reader holding old frames) is tried again next time; the
            // writer reports disk trouble on its own.
            checkpoint()
        }
    }

    /// Under steady writes a passive checkpoint never finds the log fully copied (the writer has
    /// added to it meanwhile), so the log is never started over and grows with every write. Once
    /// it is past `restartFrames`, the writer is asked to copy the rest itself, with a passive
    /// checkpoint on its own connection between two transactions (`finishOnWriter`): nothing is
    /// added while it does, so once no reader needs the old frames its next transaction starts
    /// the log afresh. A restart checkpoint from this thread did the same by taking the
    /// write lock, and held the writer up to its busy timeout whenever a reader was in the log
    /// (measured: 200-300 ms, twice a second, during an import).
    private func checkpoint() {
        guard let statement = try? connection.statement("PRAGMA wal_checkpoint(PASSIVE)") else { return }
        defer { statement.reset() }
        guard (try? statement.step()) == true else { return }
        let frames = statement.int64(1)
        if frames > restartFrames { resetWanted.store(true, ordering: .relaxed) }
    }

    private let resetWanted = Atomic<Bool>(false)

    /// Run by the writer between transactions: copies what the last passive checkpoint left, when
    /// the log has grown long. The writer's connection syncs the database file after it, as any
    /// checkpoint does, before the log may be reused.
    func finishOnWriter(_ writer: SQLiteConnection) {
        guard resetWanted.exchange(false, ordering: .relaxed) else { return }
        _ = try? writer.scalar("PRAGMA wal_checkpoint(PASSIVE)")
    }

    /// 64 MiB of 4 KiB pages, the size `journal_size_limit` cuts the log back to.
    static let restartFrames: Int64 = 16_384

    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
