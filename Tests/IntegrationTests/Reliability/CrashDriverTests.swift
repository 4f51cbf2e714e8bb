import Foundation
import LeaddClient
import LeaddProtocol
import TestSupport
import Testing

/// Sends while dispatch runs and kills leadd with SIGKILL at random moments, restarting it each
/// time. At the end: every acknowledged message was delivered at least once, copies only of what
/// was in flight at a kill, and the database passes SQLite's integrity check.
/// `LEADD_SOAK=10` sends ten times as many and kills ten times as often.
extension Integration {
    @Suite struct CrashDriverTests {
        @Test func randomKillsLoseNothing() throws {
            let scale = Soak.scale
            let batchSize = 100
            let concurrency = 2
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        batch_size: \(batchSize)
                        concurrency: \(concurrency)
                        settings:
                          file: "@SENT@"
                          delay_ms: 20
                    """)
            try daemon.start()
            // LEADD_CRASH_SEED repeats a run; the seed is printed with the figures either way.
            let seed =
                ProcessInfo.processInfo.environment["LEADD_CRASH_SEED"].flatMap { UInt64($0) }
                ?? UInt64(Date().timeIntervalSince1970 * 1000)
            var random = SeededGenerator(seed: seed)
            let batches = 40 * scale
            let perBatch = 500
            let kills = 3 * scale
            let killAfter = Set((0..<batches).shuffled(using: &random).prefix(kills))
            var acknowledged: Set<String> = []
            for batch in 0..<batches {
                let keys = (0..<perBatch).map { "c\(batch)-\($0)" }
                let requests = keys.enumerated().map {
                    ControlClient.request("message.send", sendParams(key: $1), id: Int64($0))
                }
                let client = try daemon.client()
                try client.writeLine(JSONValue.array(requests).serialized)
                if killAfter.contains(batch) {
                    // Sometimes before the answer arrives: that batch may or may not be stored.
                    usleep(UInt32.random(in: 0...30_000, using: &random))
                    daemon.kill9()
                    try daemon.start()
                    continue
                }
                let answers = try client.readResponse().arrayValue ?? []
                for (key, answer) in zip(keys, answers) where answer["result"] != nil { acknowledged.insert(key) }
            }
            #expect(
                try daemon.eventually(timeout: 120) {
                    let total = try daemon.call("queue.stats")["total"]
                    return total?["scheduled"] == 0 && total?["inflight"] == 0
                })
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit() == 0)

            let keys = daemon.sentLines.compactMap { try? JSONValue.parse($0)["key"]?.stringValue }
            let delivered = Set(keys)
            let lost = acknowledged.subtracting(delivered)
            #expect(lost.isEmpty, "\(lost.count) acknowledged messages never delivered (seed \(seed))")
            let duplicates = keys.count - delivered.count
            #expect(duplicates <= kills * batchSize * concurrency, "seed \(seed)")
            let check = try run("/usr/bin/sqlite3", [daemon.directory + "/state/leadd.db", "PRAGMA integrity_check"])
            #expect(check.out.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(check.out)\(check.err)")
            print(
                "crash driver: \(acknowledged.count) acknowledged, \(delivered.count) delivered, \(kills) kills, "
                    + "\(duplicates) duplicates, seed \(seed)")
        }
    }
}
