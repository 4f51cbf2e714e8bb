import Foundation
import Testing

@testable import LeaddCore

/// The write-ahead log is started over under steady writes, instead of growing with them.
@Suite struct CheckpointerTests {
    @Test func theLogIsStartedOverWhileTheWriterNeverRests() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/leadd.db"
        // Checkpoints every 50 ms; past 256 frames of 4 KiB (1 MiB of log) the writer is asked to
        // finish one.
        let store = try SQLiteQueueStore(
            path: path, synchronous: .full, maxBatch: 1000, checkpointInterval: 0.05, restartFrames: 256)
        let content = #"{"text":"\#(String(repeating: "x", count: 400))"}"#
        // Four writers keep a transaction under way at nearly every moment, and a reader reads
        // beside them, so a passive checkpoint alone never finds the log fully copied.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for batch in 0..<40 {
                        let messages = (0..<500).map { n in
                            NewMessage(
                                tenant: "t\(writer)", channel: "sms", to: "+1555\(n)", contentJSON: content,
                                dueAt: 4_000_000_000_000, idempotencyKey: "k\(writer)-\(batch)-\(n)")
                        }
                        _ = try await store.enqueue(messages, now: 0)
                    }
                }
            }
            group.addTask {
                for _ in 0..<200 {
                    _ = try await store.queueLanes(channel: "sms")
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            try await group.waitForAll()
        }
        // The log header counts how often the log was started over (its checkpoint sequence,
        // big-endian at byte 12). Without the writer's help it would hold every frame written.
        let header = try #require(FileHandle(forReadingAtPath: path + "-wal")?.readData(ofLength: 32))
        let restarts = header[12..<16].reduce(0) { $0 << 8 | Int($1) }
        #expect(restarts >= 5, "log started over \(restarts) times in \(80_000 / 500) transactions")
        #expect(store.stats().total[.scheduled] == 80_000)
        await store.close()
    }
}
