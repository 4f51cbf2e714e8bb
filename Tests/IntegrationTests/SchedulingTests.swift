import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    /// The scheduler in a running daemon: fair share, priorities and tenant limits, seen in the
    /// order and times the test plugin recorded.
    @Suite struct SchedulingProcessTests {
        /// One channel at 200/s, so a backlog takes seconds to drain and order is visible.
        static let slowChannel = """
                  sms:
                    plugin: TestChannel
                    rate: 200/s
                    burst: 10
                    batch_size: 10
                    concurrency: 1
                    settings:
                      file: "@SENT@"
            """

        @Test func aSmallTenantIsNotStuckBehindABigTenantsBacklog() throws {
            let daemon = try DaemonProcess(channels: Self.slowChannel)
            try daemon.start()
            #expect(try daemon.sendBatch(1_000, keyPrefix: "big", tenant: "big") == 1_000)
            #expect(try daemon.sendBatch(10, keyPrefix: "small", tenant: "small") == 10)
            #expect(
                daemon.eventually(timeout: 20) {
                    daemon.sentRecords.filter { $0["tenant"] == "small" }.count == 10
                })
            let tenants = daemon.sentRecords.map { $0["tenant"]?.stringValue ?? "" }
            let lastSmall = try #require(tenants.lastIndex(of: "small"))
            // Turns alternate while both have messages due: the small tenant's ten go out among
            // the first few dozen sends, not after the big tenant's thousand.
            #expect(lastSmall < 60, "the small tenant's last message was send number \(lastSmall + 1)")
        }

        @Test func urgentMessagesOvertakeABulkBacklog() throws {
            let daemon = try DaemonProcess(channels: Self.slowChannel)
            try daemon.start()
            #expect(
                try daemon.sendBatch(800, keyPrefix: "bulk", extra: JSONObject(["priority": "bulk", "text": "bulk"]))
                    == 800)
            #expect(
                try daemon.sendBatch(
                    20, keyPrefix: "urgent", extra: JSONObject(["priority": "urgent", "text": "urgent"])) == 20)
            #expect(
                daemon.eventually(timeout: 20) {
                    daemon.sentRecords.filter { $0["content"]?["text"] == "urgent" }.count == 20
                })
            let texts = daemon.sentRecords.map { $0["content"]?["text"]?.stringValue ?? "" }
            let firstUrgent = try #require(texts.firstIndex(of: "urgent"))
            let lastUrgent = try #require(texts.lastIndex(of: "urgent"))
            // Once queued, the urgent ones go almost back to back; bulk still gets its share.
            #expect(lastUrgent - firstUrgent < 40, "urgent spread over \(lastUrgent - firstUrgent + 1) sends")
            #expect(texts.count < 800)
        }

        @Test func aTenantsOwnRateHoldsWhileOthersGoAtFullSpeed() throws {
            let daemon = try DaemonProcess()
            try daemon.writeConfig(
                try String(contentsOfFile: daemon.configPath, encoding: .utf8) + """

                    tenants:
                      overrides:
                        slow: {rate: 10/s, burst: 2}
                    """)
            try daemon.start()
            #expect(try daemon.sendBatch(25, keyPrefix: "s", tenant: "slow") == 25)
            #expect(try daemon.sendBatch(200, keyPrefix: "f", tenant: "fast") == 200)
            #expect(try daemon.allSent(225))
            let slow = daemon.sentRecords.filter { $0["tenant"] == "slow" }.compactMap { $0["sent_at_ms"]?.int64Value }
            let fast = daemon.sentRecords.filter { $0["tenant"] == "fast" }.compactMap { $0["sent_at_ms"]?.int64Value }
            #expect(slow.count == 25)
            // Any stretch of time holds at most the burst plus what the rate refills in it.
            for i in slow.indices {
                for j in i..<slow.count {
                    let allowed = 2 + 10 * Double(slow[j] - slow[i]) / 1000
                    #expect(Double(j - i + 1) <= allowed + 1, "\(j - i + 1) sends in \(slow[j] - slow[i]) ms")
                }
            }
            // The fast tenant was not held to the slow one's pace.
            #expect((fast.max() ?? 0) < (slow.max() ?? 0))
        }

        @Test func aMessageWithTheLeadsOwnZoneFollowsTheWindowThere() throws {
            // A two-hour window around the present hour in Kiritimati (UTC+14): open there now,
            // closed in UTC, the tenant's zone.
            var kiritimati = Calendar(identifier: .gregorian)
            kiritimati.timeZone = TimeZone(identifier: "Pacific/Kiritimati")!
            let h = kiritimati.component(.hour, from: Date())
            let hours = h <= 21 ? String(format: "%02d:00-%02d:00", h, h + 2) : String(format: "%02d:00-24:00", h - 2)
            let daemon = try DaemonProcess()
            try daemon.writeConfig(
                try String(contentsOfFile: daemon.configPath, encoding: .utf8) + """

                    schedules:
                      office:
                        timezone: UTC
                        hours: "\(hours)"
                    tenants:
                      defaults:
                        schedule: office
                    """)
            try daemon.start()
            var zoned = sendParams(text: "zoned", key: "zoned")
            zoned["timezone"] = "Pacific/Kiritimati"
            _ = try daemon.call("message.send", zoned)
            let plain = try #require(try daemon.call("message.send", sendParams(key: "plain"))["id"]?.stringValue)
            var bad = sendParams(key: "bad")
            bad["timezone"] = "Mars/Base"
            let client = try daemon.client()
            try client.writeLine(ControlClient.request("message.send", bad, id: 1).serialized)
            #expect(try client.readResponse()["error"]?["data"]?["field"] == "timezone")

            #expect(try daemon.allSent(1))
            usleep(500_000)
            #expect(daemon.sentRecords.map { $0["content"]?["text"] } == ["zoned"])
            #expect(try daemon.call("message.get", JSONObject(["id": .string(plain)]))["state"] == "scheduled")
        }
    }
}
