import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    /// A daemon whose messages all wait (for a window that is closed, or for a tenant's next
    /// token) is idle: it uses next to no CPU, answers every request, and stops on SIGTERM.
    @Suite struct IdleWaitTests {
        /// Two channels on the test plugin, and a short grace so a stop is quick to see.
        static func daemon(tenants: String, name: String = #function) throws -> DaemonProcess {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        settings:
                          file: "@SENT@"
                      email:
                        plugin: TestChannel
                        address: email
                        settings:
                          file: "@SENT@"
                    """, extraDaemon: "  shutdown_grace: 2s", name: name)
            try daemon.writeConfig(try String(contentsOfFile: daemon.configPath, encoding: .utf8) + "\n" + tenants)
            return daemon
        }

        /// A one-minute window twelve hours from now, on every day: closed for hours.
        static var closedWindow: String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let hour = (calendar.component(.hour, from: Date()) + 12) % 24
            let start = String(format: "%02d:00", hour)
            let end = String(format: "%02d:01", hour)
            return """
                schedules:
                  night:
                    timezone: UTC
                    days: [mon, tue, wed, thu, fri, sat, sun]
                    hours: "\(start)-\(end)"
                tenants:
                  defaults:
                    schedule: night
                """
        }

        @Test func messagesBehindAClosedWindowLeaveTheDaemonIdle() throws {
            let daemon = try Self.daemon(tenants: Self.closedWindow)
            try daemon.start()
            try Self.fill(daemon, count: 10_000, tenant: "t1")
            try Self.expectIdle(daemon, scheduled: 10_002)
            #expect(daemon.sentLines.isEmpty, "a message went out while its window was closed")
            try Self.expectStops(daemon, within: 2)
        }

        @Test func aTenantOutOfTokensLeavesTheDaemonIdle() throws {
            let daemon = try Self.daemon(
                tenants: """
                    tenants:
                      overrides:
                        t1: {rate: 1/h, burst: 1}
                    """)
            try daemon.start()
            try Self.fill(daemon, count: 10_000, tenant: "t1")
            // The one token goes to one message; the rest wait an hour for the next.
            #expect(daemon.eventually(timeout: 30) { daemon.sentLines.count == 1 })
            try Self.expectIdle(daemon, scheduled: 10_001)
            #expect(daemon.sentLines.count == 1, "the tenant sent more than its one token")
            try Self.expectStops(daemon, within: 2)
        }

        /// A plugin that never answers does not keep leadd from stopping: SIGTERM ends it within
        /// its shutdown grace, and the message is sent again at the next start.
        @Test func aPluginThatNeverAnswersDoesNotHoldUpAStop() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        settings:
                          file: "@SENT@"
                          delay_ms: 600000
                    """, extraDaemon: "  shutdown_grace: 2s")
            try daemon.start()
            _ = try daemon.call("message.send", sendParams(key: "hung"))
            #expect(daemon.eventually(timeout: 20) { daemon.sentLines.count == 1 })
            let started = Date()
            daemon.signal(SIGTERM)
            let status = daemon.waitForExit(timeout: 20)
            #expect(status != nil, "leadd still runs 20 s after SIGTERM")
            #expect(Date().timeIntervalSince(started) < 3, "leadd took \(Date().timeIntervalSince(started)) s to stop")
            #expect(daemon.log.contains("shutdown_grace"), "\(daemon.log.suffix(1_000))")
        }

        /// Queues `count` messages on sms and one on each channel, all due now.
        static func fill(_ daemon: DaemonProcess, count: Int, tenant: String) throws {
            for start in stride(from: 0, to: count, by: 1_000) {
                #expect(try daemon.sendBatch(min(1_000, count - start), keyPrefix: "m\(start)-", tenant: tenant) > 0)
            }
            var email = sendParams(tenant: tenant, key: "e1")
            email["channel"] = "email"
            email["to"] = "lead@example.com"
            _ = try daemon.call("message.send", email)
            _ = try daemon.call("message.send", sendParams(tenant: tenant, key: "s1"))
        }

        /// Over ten seconds the daemon uses under a second of CPU, and answers reads and writes meanwhile.
        static func expectIdle(_ daemon: DaemonProcess, scheduled: Int64) throws {
            let pid = try #require(daemon.process?.pid)
            #expect(
                daemon.eventually(timeout: 30) {
                    (try? daemon.call("queue.stats")["total"]?["scheduled"]?.int64Value ?? 0) ?? 0 >= scheduled - 1
                })
            let before = try cpuTicks(pid)
            let started = Date()
            var answered = 0
            while Date().timeIntervalSince(started) < 10 {
                let client = try ControlClient(socketPath: daemon.socketPath, timeout: .seconds(3))
                #expect(try client.call("message.get", JSONObject(["id": "1"]))["id"] != nil)
                #expect(
                    try client.call("tenant.put", JSONObject(["id": .string("other\(answered)"), "weight": 2]))["id"]
                        != nil)
                #expect(try client.call("status")["version"] != nil)
                answered += 1
                // A few requests a second: the test's own requests must not be what keeps leadd busy.
                Thread.sleep(forTimeInterval: 0.5)
            }
            let used = try cpuTicks(pid) - before
            let hz = sysconf(Int32(_SC_CLK_TCK))
            #expect(answered >= 5)
            // Idle: a loop that spins would use ten or twenty seconds of CPU here.
            #expect(used < hz, "leadd used \(used) ticks (\(hz)/s) of CPU in 10 s while every message waited")
        }

        static func expectStops(_ daemon: DaemonProcess, within grace: TimeInterval) throws {
            daemon.signal(SIGTERM)
            let status = daemon.waitForExit(timeout: grace + 3)
            #expect(status == 0, "leadd did not stop within its shutdown grace after SIGTERM")
        }

        /// User plus system CPU time of a process, in clock ticks.
        static func cpuTicks(_ pid: pid_t) throws -> Int {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            // Fields after the command name, which is in parentheses and may hold spaces.
            let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
            return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        }
    }
}

extension Integration.IdleWaitTests {
    /// A plugin call that never answers is given up after `plugin_timeout`: its messages count as
    /// the channel unavailable (outcome unknown) and the slot goes back to the others.
    @Test func aHungPluginCallIsGivenUpAfterItsDeadline() throws {
        let daemon = try DaemonProcess(
            channels: """
                  sms:
                    plugin: TestChannel
                    batch_size: 1
                    concurrency: 1
                    plugin_timeout: 1s
                    retry: {initial: 1h}
                    settings:
                      file: "@SENT@"
                      hang_matching: "+5511911111111"
                """)
        try daemon.start()
        let hung = try daemon.call("message.send", sendParams(to: "+5511911111111", key: "hung"))
        let id = try #require(hung["id"]?.stringValue)
        for n in 0..<5 { _ = try daemon.call("message.send", sendParams(key: "ok\(n)")) }
        // The one slot is freed after a second, and the others go out.
        #expect(try daemon.allSent(5, timeout: 30))
        let message = try daemon.call("message.get", JSONObject(["id": .string(id)]))
        #expect(message["state"] == "scheduled", "\(message)")
        let attempts = message["attempts"]?.arrayValue ?? []
        #expect(attempts.first?["outcome"] == "unavailable", "\(attempts)")
        #expect(attempts.first?["detail"]?.stringValue?.contains("did not answer within") == true, "\(attempts)")
    }
}

extension Integration.IdleWaitTests {
    /// A plugin that leaves a batch unanswered a whole `plugin_timeout` after giving it up is
    /// stuck: the channel reports it, and the watchdog is no longer pinged, so systemd restarts leadd.
    @Test func aPluginThatStaysStuckStopsTheWatchdog() throws {
        let daemon = try DaemonProcess(
            channels: """
                  sms:
                    plugin: TestChannel
                    batch_size: 1
                    plugin_timeout: 1s
                    retry: {initial: 1h}
                    settings:
                      file: "@SENT@"
                      hang_matching: "+5511911111111"
                """)
        let notify = try FakeNotifySocket(directory: daemon.directory)
        daemon.environment["NOTIFY_SOCKET"] = notify.path
        daemon.environment["WATCHDOG_USEC"] = "1000000"
        try daemon.start()
        var messages: [String] = []
        notify.collect(into: &messages, timeout: 30) { $0.contains { $0.contains("WATCHDOG=1") } }
        #expect(messages.contains { $0.contains("WATCHDOG=1") })

        _ = try daemon.call("message.send", sendParams(to: "+5511911111111", key: "hung"))
        #expect(
            try daemon.eventually(timeout: 60) {
                let health = try daemon.call("channel.list").arrayValue?.first?["health"]?.stringValue ?? ""
                return health.hasPrefix("stuck")
            })
        // The socket is read all along, so a ping is seen within a fifth of a second of being sent.
        let deadline = Date().addingTimeInterval(60)
        var found: Date?
        var pingsAfter = 0
        while Date() < deadline, found.map({ Date().timeIntervalSince($0) < 3 }) ?? true {
            var received: [String] = []
            notify.collect(into: &received, timeout: 0.2) { _ in false }
            if let found, Date().timeIntervalSince(found) > 0.5 {
                pingsAfter += received.filter { $0.contains("WATCHDOG=1") }.count
            }
            if found == nil, daemon.log.contains("is stuck; not pinging the watchdog") { found = Date() }
        }
        #expect(found != nil, "\(daemon.log.suffix(1_000))")
        #expect(pingsAfter == 0, "\(pingsAfter) watchdog pings after the plugin was found stuck")
    }
}
