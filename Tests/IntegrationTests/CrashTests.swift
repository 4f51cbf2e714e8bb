import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    /// kill -9 at the worst moments: every acknowledged message must be there after a restart.
    @Suite struct CrashTests {
        @Test func acknowledgedMessagesSurviveKill9() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let client = try daemon.client()
            var acknowledged: [String] = []
            // Pipelined single sends and JSON-RPC batches, all due later so none is dispatched.
            for round in 0..<5 {
                for n in 0..<100 {
                    try client.writeLine(
                        ControlClient.request(
                            "message.send", sendParams(key: "s\(round)-\(n)", sendAt: "2031-01-01T00:00:00Z"),
                            id: Int64(n)
                        ).serialized)
                }
                for _ in 0..<100 {
                    acknowledged.append(
                        try #require(try ControlClient.result(of: client.readResponse())["id"]?.stringValue))
                }
                let batch = (0..<100).map {
                    ControlClient.request(
                        "message.send", sendParams(key: "b\(round)-\($0)", sendAt: "2031-01-01T00:00:00Z"),
                        id: Int64($0))
                }
                try client.writeLine(JSONValue.array(batch).serialized)
                for response in try #require(try client.readResponse().arrayValue) {
                    acknowledged.append(try #require(try ControlClient.result(of: response)["id"]?.stringValue))
                }
            }
            daemon.kill9()

            try daemon.start()
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == .integer(Int64(acknowledged.count)))
            let after = try daemon.client()
            for id in acknowledged {
                #expect(try after.call("message.get", JSONObject(["id": .string(id)]))["state"] == "scheduled")
            }
        }

        /// More lanes than one round of reads may take (the horizon's budget is 200,000 entries,
        /// 512 a lane): the loop must wait for the next round, not for a time before the epoch.
        @Test func aRestartWithMoreLanesThanOneReadTakesStaysUp() throws {
            let daemon = try DaemonProcess(extraDaemon: "  status_interval: 200ms")
            // Every message is due now and held back by a closed window, so the loop never finds
            // one it may send: after the first round of reads it goes round with lanes still to read.
            try daemon.writeConfig(
                try String(contentsOfFile: daemon.configPath, encoding: .utf8) + """

                    schedules:
                      office: {timezone: UTC, hours: "\(closedHoursUTC())"}
                    tenants:
                      defaults:
                        schedule: office
                    """)
            try daemon.start()
            let tenants = 600
            let batch = (0..<tenants).map {
                ControlClient.request("message.send", sendParams(tenant: "t\($0)", key: "k\($0)"), id: Int64($0))
            }
            let client = try daemon.client()
            try client.writeLine(JSONValue.array(batch).serialized)
            #expect(try client.readResponse().arrayValue?.filter { $0["result"] != nil }.count == tenants)
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit() == 0)

            let notify = try FakeNotifySocket(directory: daemon.directory)
            daemon.environment["NOTIFY_SOCKET"] = notify.path
            try daemon.start()
            // STATUS= counts the due messages the scheduler holds in memory: all of them only once
            // the second round of reads has landed, which the loop makes only after it went round
            // with lanes still to read (where it used to stop on an arithmetic overflow).
            var messages: [String] = []
            notify.collect(into: &messages, timeout: 60) { received in
                received.contains { $0.contains("(due \(tenants))") } || daemon.process?.isRunning != true
            }
            try #require(daemon.process?.isRunning == true, "leadd stopped after the restart:\n\(daemon.log)")
            #expect(messages.contains { $0.contains("(due \(tenants))") }, "\(messages.suffix(3))")
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == .integer(Int64(tenants)))
            #expect(daemon.sentLines.isEmpty)
        }

        @Test func messagesInFlightAtAKillAreSentAfterTheRestart() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        batch_size: 50
                        concurrency: 2
                        settings:
                          file: "@SENT@"
                          delay_ms: 300
                    """)
            try daemon.start()
            let total = 400
            #expect(try daemon.sendBatch(total, keyPrefix: "k") == total)

            // Kill while batches are with the plugin (it answers after 300 ms).
            #expect(
                daemon.eventually(timeout: 10) {
                    (try? daemon.call("queue.stats")["total"]?["inflight"]) != .integer(0)
                })
            daemon.kill9()

            try daemon.start()
            #expect(daemon.log.contains("were in flight when leadd last stopped"))
            #expect(try daemon.allSent(total, timeout: 60))
            // Every message reached the plugin at least once; copies only of those in flight at the kill.
            let keys = daemon.sentLines.compactMap { try? JSONValue.parse($0)["key"]?.stringValue }
            #expect(Set(keys) == Set((0..<total).map { "k\($0)" }))
            #expect(keys.count - total <= 100)
        }

        /// A message the plugin had taken when leadd was killed, sent again after the restart,
        /// shows both hand-offs in its history: the first with an unknown outcome.
        @Test func aMessageSentAgainAfterACrashShowsBothHandOffs() throws {
            let slow = """
                  sms:
                    plugin: TestChannel
                    settings:
                      file: "@SENT@"
                      delay_ms: 60000
                """
            let daemon = try DaemonProcess(channels: slow)
            try daemon.start()
            let id = try #require(try daemon.call("message.send", sendParams(key: "once"))["id"]?.stringValue)
            // The plugin has sent it and has not answered yet.
            #expect(daemon.eventually(timeout: 20) { daemon.sentLines.count == 1 })
            daemon.kill9()
            try daemon.writeConfig(
                try String(contentsOfFile: daemon.configPath, encoding: .utf8).replacingOccurrences(
                    of: "delay_ms: 60000", with: "delay_ms: 0"))
            try daemon.start()
            #expect(try daemon.allSent(1))
            #expect(daemon.sentLines.count == 2)
            let attempts = try daemon.call("message.get", JSONObject(["id": .string(id)]))["attempts"]?.arrayValue ?? []
            #expect(attempts.count == 2, "\(attempts)")
            #expect(attempts.first?["outcome"] == "unknown", "\(attempts)")
            #expect(attempts.first?["detail"]?.stringValue?.contains("leadd stopped") == true, "\(attempts)")
            #expect(attempts.last?["outcome"] == "delivered", "\(attempts)")
        }

        /// A message that crashes its plugin (and so leadd) at every start is set aside as dead
        /// after three stops, with the reason, instead of crashing leadd for ever.
        @Test func aMessageThatKeepsCrashingLeaddIsSetAside() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        settings:
                          file: "@SENT@"
                          crash_matching: "+5511922222222"
                    """)
            try daemon.start()
            // Due a moment later: sent at once, it could crash leadd before the answer left it.
            let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(2))
            let poison = try daemon.call(
                "message.send", sendParams(to: "+5511922222222", key: "poison", sendAt: later))
            let id = try #require(poison["id"]?.stringValue)
            var crashes = 0
            var state: JSONValue?
            for _ in 0..<6 {
                // Crashed once it picked the message up; started again, it recovers it.
                guard daemon.waitForExit(timeout: 20) != nil else { break }
                crashes += 1
                guard (try? daemon.start()) != nil else { continue }
                state = try? daemon.call("message.get", JSONObject(["id": .string(id)]))["state"]
                if state == "dead" { break }
            }
            #expect(state == "dead", "after \(crashes) crashes")
            #expect(crashes == 3)
            let message = try daemon.call("message.get", JSONObject(["id": .string(id)]))
            #expect(message["last_error"]?.stringValue?.contains("poison") == true, "\(message)")
            // It stays up, and the next message goes out.
            _ = try daemon.call("message.send", sendParams(key: "next"))
            #expect(try daemon.allSent(1))
            #expect(daemon.process?.isRunning == true)
        }
    }
}
