import Foundation
import LeaddClient
import LeaddProtocol
import LeaddSync
import TestSupport
import Testing

/// More offered load than the throttles let out, for a while: leadd keeps every message, its
/// memory stays flat (only a horizon of due messages is held), and `status` stays quick.
/// `LEADD_SOAK=10` runs it ten times as long.
extension Integration {
    @Suite struct OverloadTests {
        @Test func offeredLoadAboveTheLimitsIsKeptWithFlatMemory() throws {
            let scale = Soak.scale
            let daemon = try DaemonProcess(
                channels: """
                          sms:
                            plugin: TestChannel
                            rate: 500/s
                            burst: 100
                            settings:
                              file: "@SENT@"
                    """)
            try daemon.start()
            let pid = try #require(daemon.process?.pid)
            let seconds = 20 * scale
            let perSecond = 4_000
            var offered = 0
            var rss: [Int] = []
            var slowest = 0.0
            let client = try daemon.client()
            let start = Date()
            for second in 0..<seconds {
                let tick = start.addingTimeInterval(Double(second))
                while Date() < tick { usleep(1_000) }
                let requests = (0..<perSecond).map {
                    ControlClient.request(
                        "message.send", sendParams(tenant: "t\($0 % 50)", key: "o\(second)-\($0)"), id: Int64($0))
                }
                try client.writeLine(JSONValue.array(requests).serialized)
                let acknowledged = try client.readResponse().arrayValue?.filter { $0["result"] != nil }.count ?? 0
                #expect(acknowledged == perSecond)
                offered += acknowledged
                let t0 = Date()
                _ = try daemon.call("status")
                slowest = max(slowest, Date().timeIntervalSince(t0))
                rss.append(Self.residentKiB(of: pid))
            }
            let total = try daemon.call("queue.stats")["total"]
            let stored = ["scheduled", "inflight", "sent"].reduce(Int64(0)) { $0 + (total?[$1]?.int64Value ?? 0) }
            // Nothing dropped: every acknowledged message is stored, most still waiting for the limit.
            #expect(stored == Int64(offered))
            #expect((total?["scheduled"]?.int64Value ?? 0) > Int64(offered / 2))
            // Flat: after the first seconds, memory grows by far less than the backlog would need.
            // What does grow is bounded: the store's page caches fill as the database grows (the
            // writer's up to 32 MiB, reached only in the longer soak run), and stop there.
            let settled = rss[min(4, rss.count - 1)]
            let growthMiB = Double((rss.max() ?? 0) - settled) / 1024
            let boundMiB = scale > 1 ? 48.0 + 32 : 48
            // Sanitizers keep freed memory in quarantine on purpose: memory is measured without them.
            if ProcessInfo.processInfo.environment["LEADD_SANITIZER"] == nil {
                #expect(
                    growthMiB < boundMiB,
                    "RSS grew \(growthMiB) MiB while the backlog grew to \(offered) messages: \(rss)")
                // And it levels off: the last quarter of the run adds little, however long it runs.
                let quarter = rss[(rss.count * 3) / 4]
                let lateGrowthMiB = Double((rss.max() ?? 0) - quarter) / 1024
                #expect(lateGrowthMiB < 12, "RSS still grew \(lateGrowthMiB) MiB in the last quarter: \(rss)")
            }
            #expect(slowest < 1.0, "a status call took \(slowest) s")
            print(
                "overload: \(offered) offered in \(seconds) s, backlog \(total?["scheduled"]?.int64Value ?? 0), "
                    + "RSS \(settled / 1024) -> \((rss.max() ?? 0) / 1024) MiB, slowest status \(Int(slowest * 1000)) ms"
            )
        }

        /// A client that writes and never reads its answers: leadd stops reading it once a window
        /// of answers waits to be written, instead of holding every answer, and when the client
        /// reads at last, every answer is there, in order.
        @Test func aClientThatStopsReadingItsAnswersIsNoLongerRead() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let pid = try #require(daemon.process?.pid)
            let before = Self.residentKiB(of: pid)
            let client = try daemon.client()
            // Batches of 100 `queue.stats`: about 6 KiB asked, 25 KiB answered, 2,000 times over
            // (50 MiB of answers if leadd kept them all).
            let lines = 2_000
            let batch = JSONValue.array(
                (0..<100).map { ControlClient.request("queue.stats", JSONObject(), id: Int64($0)) }
            ).serialized
            let written = Locked(0)
            // Writing and reading use separate parts of the client, so one thread may write while
            // this one reads.
            nonisolated(unsafe) let sender = client
            let writer = Thread {
                for _ in 0..<lines {
                    guard (try? sender.writeLine(batch)) != nil else { return }
                    written.withLock { $0 += 1 }
                }
            }
            writer.start()
            Thread.sleep(forTimeInterval: 5)
            let grown = Self.residentKiB(of: pid) - before
            #expect(written.withLock { $0 } < lines, "leadd read every request of a client that reads nothing")
            #expect(grown < 20 * 1024, "leadd grew by \(grown / 1024) MiB holding answers")
            for _ in 0..<lines {
                let answers = try #require(try client.readResponse().arrayValue)
                #expect(answers.count == 100)
                #expect(answers.last?["id"] == .integer(99))
            }
            #expect(written.withLock { $0 } == lines)
        }

        static func residentKiB(of pid: pid_t) -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
    }
}
