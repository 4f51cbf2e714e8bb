import Foundation
import LeaddClient
import LeaddProtocol
import TestSupport
import Testing

/// A provider that goes down, slows down, fails with 500s or throttles with 429, for a while and
/// then recovers, against a running leadd and the WhatsApp Cloud API fake: the breaker opens and
/// closes, no message is dead-lettered or uses up its tries, all are delivered after, and
/// Retry-After is respected. `LEADD_SOAK=10` makes each outage ten times as long.
extension Integration {
    @Suite(.serialized) struct OutageTests {
        static let scale = Soak.scale
        static let phoneNumberID = "106540352242922"

        static func fake(port: Int? = nil, name: String = #function) throws -> PeerProcess {
            try PeerProcess(
                "whatsapp_fake.py",
                [
                    "--dir", "@DIR@", "--port", "@PORT@", "--phone-number-id", phoneNumberID, "--token-file",
                    "@DIR@/token",
                ], port: port, name: name
            ) { try "EAAG-token\n".write(toFile: $0 + "/token", atomically: true, encoding: .utf8) }
        }

        /// leadd with one WhatsApp channel on the fake.
        static func daemon(_ fake: PeerProcess, name: String = #function) throws -> DaemonProcess {
            try daemon(
                plugin: "WhatsApp",
                settings: """
                    base_url: http://127.0.0.1:\(fake.port)
                    phone_number_id: "\(phoneNumberID)"
                    access_token: {file: \(fake.directory)/token}
                    """, name: name)
        }

        /// leadd with one channel `wa` on `plugin` (`settings` one key a line): short timeouts,
        /// quick retries, a breaker that opens after a handful of failures, and three tries before
        /// a message is dead.
        static func daemon(plugin: String, settings: String, name: String = #function) throws -> DaemonProcess {
            let indented = settings.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n")
            let daemon = try DaemonProcess(
                channels: """
                          wa:
                            plugin: \(plugin)
                            batch_size: 10
                            concurrency: 2
                            settings:
                    \(indented)
                              timeout: 500ms
                              connect_timeout: 500ms
                              connections: 4
                            retry:
                              initial: 200ms
                              multiplier: 2
                              max: 1s
                              max_attempts: 3
                            breaker:
                              failure_rate: 50%
                              minimum_calls: 5
                              window: 2s
                              open_for: 1s
                              probes: 2
                    """, name: name)
            try daemon.start()
            return daemon
        }

        static func send(_ daemon: DaemonProcess, _ count: Int, prefix: String, email: Bool = false) throws {
            let batch = (0..<count).map {
                ControlClient.request(
                    "message.send",
                    JSONObject([
                        "tenant": "acme", "channel": "wa",
                        "to": .string(email ? "lead\($0)@example.org" : "+55119876\(String(format: "%05d", $0))"),
                        "text": "Olá", "subject": "Oi", "idempotency_key": .string("\(prefix)\($0)"),
                    ]), id: Int64($0))
            }
            let client = try daemon.client()
            try client.writeLine(JSONValue.array(batch).serialized)
            let answers = try client.readResponse().arrayValue ?? []
            #expect(answers.filter { $0["result"] != nil }.count == count)
        }

        /// Runs the outage until the breaker has been seen open and `seconds` have passed, then ends
        /// it and checks that every message went out with nothing dead or failed.
        static func survive(
            _ daemon: DaemonProcess, count: Int, seconds: Double, end: () throws -> Void
        ) throws {
            var sawOpen = false
            let until = Date().addingTimeInterval(seconds * Double(scale))
            while Date() < until || !sawOpen {
                let breaker = try daemon.call("channel.list").arrayValue?.first?["breaker"]
                if breaker?["state"] == "open" { sawOpen = true }
                guard Date() < until.addingTimeInterval(20) else { break }
                usleep(20_000)
            }
            #expect(sawOpen, "the breaker never opened")
            try end()
            let sent = try daemon.allSent(count, timeout: 60)
            let total = try daemon.call("queue.stats")["total"]
            #expect(sent, "\(total ?? .null)")
            #expect(total?["dead"] == 0)
            #expect(total?["failed"] == 0)
            #expect(
                try daemon.eventually(timeout: 10) {
                    try daemon.call("channel.list").arrayValue?.first?["breaker"]?["state"] == "closed"
                })
        }

        @Test func providerDownThenBack() throws {
            var fake: PeerProcess? = try Self.fake()
            let port = fake!.port
            let daemon = try Self.daemon(fake!)
            fake?.stop()
            let count = 40 * Self.scale
            try Self.send(daemon, count, prefix: "down-")
            try Self.survive(daemon, count: count, seconds: 3) { fake = try Self.fake(port: port) }
            #expect(fake?.received.count ?? 0 >= count)
        }

        @Test func smtpServerDownThenBack() throws {
            var server: PeerProcess? = try PeerProcess("smtp_server.py", ["--dir", "@DIR@", "--port", "@PORT@"])
            let port = server!.port
            let daemon = try Self.daemon(
                plugin: "Email",
                settings: """
                    url: smtp://127.0.0.1:\(port)
                    tls: none
                    from: news@example.com
                    """)
            server?.stop()
            let count = 30 * Self.scale
            try Self.send(daemon, count, prefix: "smtp-", email: true)
            try Self.survive(daemon, count: count, seconds: 3) {
                server = try PeerProcess("smtp_server.py", ["--dir", "@DIR@", "--port", "@PORT@"], port: port)
            }
            #expect(server?.received.count ?? 0 >= count)
        }

        @Test func providerSlowThenFast() throws {
            let fake = try Self.fake()
            let daemon = try Self.daemon(fake)
            // Slower than the plugin's 500 ms timeout.
            try fake.inject(.array([.object(JSONObject(["to_contains": "", "delay_ms": 1500]))]))
            let count = 40 * Self.scale
            try Self.send(daemon, count, prefix: "slow-")
            try Self.survive(daemon, count: count, seconds: 3) { try fake.inject(.array([])) }
        }

        @Test func providerFailingWith500sThenHealthy() throws {
            let fake = try Self.fake()
            let daemon = try Self.daemon(fake)
            try fake.inject(.array([.object(JSONObject(["to_contains": "", "status": 500]))]))
            let count = 40 * Self.scale
            try Self.send(daemon, count, prefix: "e500-")
            try Self.survive(daemon, count: count, seconds: 3) { try fake.inject(.array([])) }
        }

        @Test func throttledWith429HonoursRetryAfter() throws {
            let fake = try Self.fake()
            let daemon = try Self.daemon(fake)
            try fake.inject(
                .array([
                    .object(
                        JSONObject([
                            "to_contains": "", "status": 429, "headers": .object(JSONObject(["Retry-After": "2"])),
                            "body": .object(
                                JSONObject([
                                    "error": .object(
                                        JSONObject([
                                            "message": "(#130429) Rate limit hit", "type": "OAuthException",
                                            "code": 130429, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
                                        ]))
                                ])),
                        ]))
                ]))
            let count = 40 * Self.scale
            try Self.send(daemon, count, prefix: "t429-")
            try Self.survive(daemon, count: count, seconds: 3) { try fake.inject(.array([])) }
            // Every message that was throttled waited at least the 2 s the provider asked for.
            var throttled = 0
            for id in 1...count {
                let attempts =
                    try daemon.call("message.get", JSONObject(["id": .string("\(id)")]))["attempts"]?
                    .arrayValue ?? []
                let times = attempts.compactMap { $0["at"]?.stringValue.flatMap(parseTimestamp) }
                guard attempts.count >= 2, times.count == attempts.count else { continue }
                throttled += 1
                for (first, next) in zip(times, times.dropFirst()) { #expect(next.timeIntervalSince(first) >= 1.99) }
            }
            #expect(throttled > 0)
        }
    }
}

/// RFC 3339 with or without fractional seconds.
func parseTimestamp(_ text: String) -> Date? {
    (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
}
