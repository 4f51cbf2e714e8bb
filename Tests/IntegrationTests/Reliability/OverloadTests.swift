import Foundation
import LeaddClient
import LeaddProtocol
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
            let settled = rss[min(4, rss.count - 1)]
            let growthMiB = Double((rss.max() ?? 0) - settled) / 1024
            // Sanitizers keep freed memory in quarantine on purpose: memory is measured without them.
            if ProcessInfo.processInfo.environment["LEADD_SANITIZER"] == nil {
                #expect(
                    growthMiB < 48, "RSS grew \(growthMiB) MiB while the backlog grew to \(offered) messages: \(rss)")
            }
            #expect(slowest < 1.0, "a status call took \(slowest) s")
            print(
                "overload: \(offered) offered in \(seconds) s, backlog \(total?["scheduled"]?.int64Value ?? 0), "
                    + "RSS \(settled / 1024) -> \((rss.max() ?? 0) / 1024) MiB, slowest status \(Int(slowest * 1000)) ms"
            )
        }

        static func residentKiB(of pid: pid_t) -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
    }
}
