import Foundation
import LeaddClient
import LeaddProtocol
import Testing

/// Senders against the WhatsApp fake (Tests/Peers/whatsapp_fake.py, written from Meta's Cloud
/// API reference: no real Cloud API server runs locally), which serves several business numbers
/// of one account. Two tenants on two senders with different limits each get their own rate,
/// and a third sender whose token the provider refuses opens its own breaker while the others
/// go on sending.
extension Integration {
    @Suite(.serialized) struct SenderTests {
        static let token = "EAAG-sender-token"

        /// The fake records arrival times as seconds since the epoch.
        static func seconds(_ value: JSONValue?) -> Double? {
            switch value {
            case .number(let d): d
            case .integer(let i): Double(i)
            default: nil
            }
        }

        @Test func eachSenderHasItsOwnRateAndBreaker() throws {
            let fake = try PeerProcess(
                "whatsapp_fake.py",
                [
                    "--dir", "@DIR@", "--port", "@PORT@", "--phone-number-id", "1001", "--phone-number-id", "1002",
                    "--phone-number-id", "1003", "--token-file", "@DIR@/token",
                ]
            ) { directory in
                try "\(Self.token)\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
                try "EAAG-revoked\n".write(toFile: directory + "/revoked", atomically: true, encoding: .utf8)
            }
            let daemon = try DaemonProcess(
                channels: """
                      wa:
                        plugin: WhatsApp
                        batch_size: 10
                        concurrency: 4
                        settings:
                          base_url: http://127.0.0.1:\(fake.port)
                          phone_number_id: "1001"
                          access_token: {file: \(fake.directory)/token}
                          timeout: 2s
                        retry: {initial: 200ms, max: 1s, max_attempts: 5}
                        breaker: {failure_rate: 50%, minimum_calls: 3, window: 5s, open_for: 60s, probes: 1}
                        senders:
                          slow:
                            rate: 4/s
                          fast:
                            settings: {phone_number_id: "1002"}
                            rate: 20/s
                    tenants:
                      overrides:
                        t-slow: {senders: [slow]}
                        t-fast: {senders: [fast]}
                    """)
            try daemon.start()

            // A secret written in clear is refused by the plugin, named, and never echoed or stored.
            do {
                _ = try daemon.call(
                    "sender.put",
                    JSONObject([
                        "id": "leaky", "channel": "wa",
                        "settings": .object(JSONObject(["access_token": .string(Self.token)])),
                    ]))
                Issue.record("a token in clear was accepted")
            } catch let ClientError.refused(_, message, _) {
                #expect(message.contains("access_token"), "\(message)")
                #expect(!message.contains(Self.token))
            }
            do {
                _ = try daemon.call("sender.put", JSONObject(["id": "slow", "channel": "wa"]))
                Issue.record("a sender declared in the file was overwritten")
            } catch let ClientError.refused(_, message, _) {
                #expect(message.contains("declared in the config file under channels.wa.senders"), "\(message)")
            }
            /// The third business number, stored over the socket with its token in `tokenFile`.
            func putSuspended(tokenFile: String) throws {
                _ = try daemon.call(
                    "sender.put",
                    JSONObject([
                        "id": "suspended", "channel": "wa",
                        "settings": .object(
                            JSONObject([
                                "phone_number_id": "1003",
                                "access_token": .object(
                                    JSONObject(["file": .string(fake.directory + "/" + tokenFile)])),
                            ])),
                    ]))
            }
            // The suspended number: its token is no longer valid (Graph answers 401, code 190).
            try putSuspended(tokenFile: "revoked")
            _ = try daemon.call("tenant.put", JSONObject(["id": "t-sus", "senders": .array(["suspended"])]))
            do {
                _ = try daemon.call("tenant.put", JSONObject(["id": "t-x", "senders": .array(["nobody"])]))
                Issue.record("an unknown sender was accepted")
            } catch let ClientError.refused(_, message, _) {
                #expect(message.contains("sender 'nobody'"), "\(message)")
            }

            var ids: [String: [String]] = [:]
            for (tenant, count) in [("t-slow", 20), ("t-fast", 60), ("t-sus", 10)] {
                let batch = (0..<count).map {
                    ControlClient.request(
                        "message.send",
                        JSONObject([
                            "tenant": .string(tenant), "channel": "wa",
                            "to": .string("+5511987\(String(format: "%06d", $0))"), "text": "Olá",
                            "idempotency_key": .string("\(tenant)-\($0)"),
                        ]), id: Int64($0))
                }
                let client = try daemon.client()
                try client.writeLine(JSONValue.array(batch).serialized)
                ids[tenant] = (try client.readResponse().arrayValue ?? []).compactMap {
                    $0["result"]?["id"]?.stringValue
                }
                #expect(ids[tenant]?.count == count)
            }

            func arrivals(_ number: String) -> [Double] {
                fake.received.filter { $0["path"]?.stringValue?.contains("/\(number)/messages") == true }
                    .compactMap { Self.seconds($0["at"]) }
            }
            #expect(fake.eventually(timeout: 30) { arrivals("1001").count == 20 && arrivals("1002").count == 60 })
            let slow = arrivals("1001")
            let fast = arrivals("1002")
            let slowSpan = (slow.max() ?? 0) - (slow.min() ?? 0)
            let fastSpan = (fast.max() ?? 0) - (fast.min() ?? 0)
            // 4/s with a burst of 4: 16 more after the first second's worth, at least 4 s. 20/s with
            // a burst of 20: at least 2 s, and far less than the 15 s the slow sender's rate would take.
            #expect(slowSpan >= 3.6, "slow sender spread over \(slowSpan) s")
            #expect(fastSpan >= 1.7 && fastSpan < 6, "fast sender spread over \(fastSpan) s")
            #expect((fast.max() ?? 0) < (slow.max() ?? 0))

            // The suspended sender's breaker opened; the channel's and the other senders' did not,
            // and its tenant's messages wait without losing a try.
            let suspended = try daemon.call("sender.get", JSONObject(["id": "suspended"]))
            #expect(suspended["breaker"]?["state"] == "open", "\(suspended)")
            #expect(suspended["origin"] == "stored")
            let refused = fake.received.filter { $0["path"]?.stringValue?.contains("/1003/") == true }
            let lastRefusal = refused.compactMap { Self.seconds($0["at"]) }.max() ?? .infinity
            #expect(!refused.isEmpty)
            #expect(slow.filter { $0 > lastRefusal }.count > 5, "the slow sender stopped when another's breaker opened")
            let breakers = try daemon.call("breaker.list").arrayValue?.first
            #expect(breakers?["state"] == "closed")
            let states = (breakers?["senders"]?.arrayValue ?? []).map { [$0["sender"], $0["state"]] }
            #expect(states == [["fast", "closed"], ["slow", "closed"], ["suspended", "open"]])
            let waiting = try daemon.call("message.get", JSONObject(["id": .string(ids["t-sus"]![0])]))
            #expect(waiting["state"] == "scheduled", "\(waiting)")
            #expect(waiting["attempts"]?.arrayValue?.first?["sender"] == "suspended")
            let sent = try daemon.call("message.get", JSONObject(["id": .string(ids["t-fast"]![0])]))
            #expect(sent["attempts"]?.arrayValue?.first?["sender"] == "fast")

            // The number is reinstated with a good token, the breaker reset: its messages go out.
            try putSuspended(tokenFile: "token")
            let reset = try daemon.call("breaker.reset", JSONObject(["channel": "wa", "sender": "suspended"]))
            #expect(reset["changed"] == true)
            #expect(
                fake.eventually(timeout: 20) {
                    fake.received.filter {
                        $0["path"]?.stringValue?.contains("/1003/") == true && $0["raw"]?.stringValue != nil
                    }.count >= refused.count + 10
                })
            #expect(try daemon.allSent(90, timeout: 20))
            let stats = try daemon.call("queue.stats")["total"]
            #expect(stats?["dead"] == 0 && stats?["failed"] == 0, "\(stats ?? .null)")
            // Stored settings hold the reference, never the token.
            for file in ["leadd.db", "leadd.db-wal"] {
                let bytes = FileManager.default.contents(atPath: daemon.directory + "/state/" + file) ?? Data()
                #expect(bytes.range(of: Data(Self.token.utf8)) == nil, "\(file) holds the token")
            }
        }
    }
}
