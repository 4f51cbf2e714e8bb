// Copies the write-ahead log back into the database file on a thread of its own. Left to
// SQLite, the commit that crosses the auto-checkpoint threshold does this itself, holding up
// every job grouped behind it (measured: 1 in 100 commits took 13-20 ms instead of 0.04 ms at
// 10,000 msgs/s, and claims waiting behind them made sends late). A passive checkpoint on
// another connection takes no lock the writer waits for; the writer keeps a far higher
// threshold of its own only as a backstop in case this thread falls behind.
import Foundation

final class SQLiteCheckpointer: @unchecked Sendable {
    /// The writer's own threshold, in pages (4 KiB each): a backstop, not the normal path.
    static let writerThreshold = 50_000

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var stopping = false
    private var finished = false

    private let connection: SQLiteConnection
    private let interval: TimeInterval

    init(path: String, interval: TimeInterval = 0.2) throws {
        connection = try SQLiteConnection(path: path)
        // How long a restart checkpoint may wait for the transaction under way to end.
        try connection.execute("PRAGMA busy_timeout = 200")
        self.interval = interval
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

    /// Under steady writes a passive checkpoint never finds the log fully copied with nobody
    /// in it, so the log is never started over and grows with every write. Once it is past
    /// `restartFrames`, a restart checkpoint (after the passive one has copied nearly all of it)
    /// holds writers back for the last frames only, and the next commit starts the log afresh.
    private func checkpoint() {
        guard let statement = try? connection.statement("PRAGMA wal_checkpoint(PASSIVE)") else { return }
        defer { statement.reset() }
        guard (try? statement.step()) == true else { return }
        let frames = statement.int64(1)
        statement.reset()
        if frames > Self.restartFrames { _ = try? connection.scalar("PRAGMA wal_checkpoint(RESTART)") }
    }

    /// 16 MiB of 4 KiB pages.
    static let restartFrames: Int64 = 4_096

    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
