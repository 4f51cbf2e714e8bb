import Foundation
import LeaddProtocol
import TestSupport
import Testing

/// A provider that says "slow down" or does not answer at all costs a handful of calls, not a
/// stream of them: a Retry-After pauses the channel, and an outage trips the breaker after a few
/// failures in a row.
extension Integration {
    @Suite(.serialized) struct ProviderPushbackTests {
        /// The WhatsApp plugin against the Cloud API fake (written from Meta's reference; no real
        /// server runs locally), answering 429 with Retry-After: 3 to every send.
        @Test func aRetryAfterPausesTheChannelForEveryMessage() throws {
            let fake = try PeerProcess(
                "whatsapp_fake.py",
                [
                    "--dir", "@DIR@", "--port", "@PORT@", "--phone-number-id", "106540352242922", "--token-file",
                    "@DIR@/token",
                ]
            ) { try "EAAG-test-token\n".write(toFile: $0 + "/token", atomically: true, encoding: .utf8) }
            try fake.inject(
                .array([.object(JSONObject(["status": 429, "headers": .object(JSONObject(["Retry-After": "3"]))]))]))
            let daemon = try DaemonProcess(
                channels: """
                      whatsapp:
                        plugin: WhatsApp
                        batch_size: 5
                        concurrency: 1
                        settings:
                          base_url: http://127.0.0.1:\(fake.port)
                          phone_number_id: "106540352242922"
                          access_token: {file: \(fake.directory)/token}
                    """)
            try daemon.start()
            for n in 0..<20 {
                var params = sendParams(to: "+55119700000\(String(format: "%02d", n))", key: "k\(n)")
                params["channel"] = "whatsapp"
                _ = try daemon.call("message.send", params)
            }
            // The first answers pause the channel, and the pause shows with its reason and end.
            var breaker: JSONValue?
            #expect(
                try daemon.eventually(timeout: 20) {
                    breaker = try daemon.call("breaker.list").arrayValue?.first { $0["channel"] == "whatsapp" }
                    return breaker?["state"] == "open"
                })
            let pausedAt = Date()
            let reason = breaker?["reason"]?.stringValue ?? ""
            #expect(reason.contains("429"), "\(String(describing: breaker))")
            #expect(breaker?["open_until"] != nil)
            // Nothing more goes to the provider while the pause lasts (three seconds from the
            // answer; watched for the first two and a half from when the pause was seen).
            let refusedBeforePause = fake.received.count
            while Date().timeIntervalSince(pausedAt) < 2.5 {
                #expect(fake.received.count == refusedBeforePause, "sends went on during the pause")
                if fake.received.count != refusedBeforePause { break }
                usleep(20_000)
            }
            // One batch's worth of 429s, where a channel that went on would have met twenty.
            #expect(refusedBeforePause <= 5, "\(refusedBeforePause) sends were refused with 429")
            try fake.inject(.array([]))
            #expect(try daemon.allSent(20, timeout: 40))
        }

        /// The Email plugin against a port where nothing listens: every call is refused, and the
        /// breaker opens after a handful of them.
        @Test func refusedConnectionsOpenTheBreakerAfterAFewInARow() throws {
            let port = try freePort()
            let daemon = try DaemonProcess(
                channels: """
                      mail:
                        plugin: Email
                        batch_size: 1
                        concurrency: 1
                        settings:
                          url: smtp://127.0.0.1:\(port)
                          tls: none
                          from: "Loja <news@example.com>"
                    """)
            try daemon.start()
            for n in 0..<40 {
                _ = try daemon.call(
                    "message.send",
                    JSONObject([
                        "tenant": "acme", "channel": "mail", "to": .string("lead\(n)@example.org"), "subject": "Oi",
                        "text": "Olá", "idempotency_key": .string("m\(n)"),
                    ]))
            }
            #expect(
                try daemon.eventually(timeout: 20) {
                    try daemon.call("breaker.list").arrayValue?.first { $0["channel"] == "mail" }?["state"] == "open"
                })
            let metrics = try daemon.call("metrics").stringValue ?? ""
            let refused =
                metrics.split(separator: "\n").first {
                    $0.hasPrefix("leadd_messages_total{") && $0.contains("channel=\"mail\"")
                        && $0.contains("outcome=\"unavailable\"")
                }?.split(separator: " ").last.flatMap { Int($0) } ?? -1
            #expect(refused >= 1 && refused <= 5, "\(refused) calls were refused before the breaker opened")
        }
    }
}

extension Integration.ProviderPushbackTests {
    /// The breaker's probe turns out to be a message suppressed while the channel was down: it
    /// never reaches the plugin, and the breaker must not wait for its answer for ever.
    @Test func aProbeThatIsNeverSentDoesNotHoldTheBreakerHalfOpen() throws {
        let daemon = try DaemonProcess(
            channels: """
                  sms:
                    plugin: TestChannel
                    retry: {initial: 10ms}
                    breaker: {consecutive_failures: 1, open_for: 1s, probes: 1}
                    settings:
                      file: "@SENT@"
                      unavailable_while: "@SENT@.down"
                """)
        let down = daemon.sentPath + ".down"
        #expect(FileManager.default.createFile(atPath: down, contents: Data()))
        try daemon.start()
        _ = try daemon.call("message.send", sendParams(to: "+5511933333333", key: "optout"))
        #expect(
            try daemon.eventually(timeout: 20) {
                try daemon.call("breaker.list").arrayValue?.first?["state"] == "open"
            })
        // The lead opts out while the channel is down, and the channel comes back.
        _ = try daemon.call(
            "suppression.add", JSONObject(["tenant": "acme", "address": "+5511933333333", "reason": "STOP"]))
        try FileManager.default.removeItem(atPath: down)
        // Due after the breaker's first probe, which is then the suppressed message.
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3))
        _ = try daemon.call("message.send", sendParams(to: "+5511944444444", key: "next", sendAt: later))
        #expect(try daemon.allSent(1, timeout: 20), "\(String(describing: try? daemon.call("breaker.list")))")
        #expect(daemon.sentRecords.map { $0["to"] } == ["+5511944444444"])
    }
}
