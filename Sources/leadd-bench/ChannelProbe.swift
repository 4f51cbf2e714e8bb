// The channel plugins against their real local peers (the same ones the tests start, from
// Tests/Peers): messages per second through leadd for each provider protocol, with the CPU each
// side used, so the table can say which side was the bottleneck.
import Foundation
import LeaddClient
import LeaddProtocol
import TestSupport

struct ChannelProbe {
    /// One provider peer and the channel that sends to it.
    struct Peer {
        var name: String
        /// The command under the peers directory and its arguments; @DIR@ and @PORT@ are filled in.
        var command: [String]
        /// Consecutive ports the peer takes from @PORT@ on.
        var ports = 1
        var prepare: (String) throws -> Void = { _ in }
        /// The channel's YAML (under `channels:`), given the peer's directory and port.
        var channel: (String, Int) -> String
        var to: String
        var content: JSONObject
    }

    struct Result {
        var peer: String
        var messages: Int
        var perSecond: Double
        /// CPU time over wall time, in percent of one core.
        var leaddCPU: Double
        var peerCPU: Double
    }

    let peersDirectory: String
    let binaries: String
    let directory: String
    let messages: Int

    func run(_ peer: Peer) throws -> Result {
        let work = directory + "/\(peer.name)"
        try FileManager.default.createDirectory(atPath: work + "/peer", withIntermediateDirectories: true)
        let port = try freePort(consecutive: peer.ports)
        try peer.prepare(work + "/peer")
        let server = Process()
        let script = peersDirectory + "/" + peer.command[0]
        let arguments = peer.command.dropFirst().map {
            $0.replacingOccurrences(of: "@DIR@", with: work + "/peer").replacingOccurrences(
                of: "@PORT@", with: "\(port)")
        }
        if script.hasSuffix(".py") {
            server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            server.arguments = ["python3", script] + arguments
        } else {
            server.executableURL = URL(fileURLWithPath: script)
            server.arguments = arguments
        }
        server.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: work + "/peer/ready") {
            guard server.isRunning, Date() < deadline else { throw BenchError("peer \(peer.name) did not start") }
            usleep(20_000)
        }
        let leadd = try LeaddUnderTest(
            directory: work, binaries: binaries, config: "channels:\n" + peer.channel(work + "/peer", port))
        defer { leadd.stop() }

        let client = try ControlClient(socketPath: leadd.socketPath)
        let leaddBefore = CPUTime(of: leadd.process.processIdentifier)
        let peerBefore = CPUTime(of: server.processIdentifier)
        let start = Date()
        for first in stride(from: 0, to: messages, by: 1000) {
            let batch = (first..<min(messages, first + 1000)).map { n in
                var params = peer.content
                params["tenant"] = "acme"
                params["channel"] = "ch"
                params["to"] = .string(peer.to)
                params["idempotency_key"] = .string("\(peer.name)-\(n)")
                return ControlClient.request("message.send", params, id: Int64(n))
            }
            try client.writeLine(JSONValue.array(batch).serialized)
            _ = try client.readResponse()
        }
        var finished = Date()
        while true {
            let total = try client.call("queue.stats")["total"]
            let sent = total?["sent"]?.int64Value ?? 0
            let ended = sent + (total?["failed"]?.int64Value ?? 0) + (total?["dead"]?.int64Value ?? 0)
            if ended >= Int64(messages) {
                finished = Date()
                guard sent == Int64(messages) else {
                    throw BenchError("\(peer.name): only \(sent) of \(messages) sent; see \(work)")
                }
                break
            }
            guard Date().timeIntervalSince(start) < 300 else {
                throw BenchError("\(peer.name): timed out; see \(work)")
            }
            usleep(5_000)
        }
        let seconds = finished.timeIntervalSince(start)
        return Result(
            peer: peer.name, messages: messages, perSecond: Double(messages) / seconds,
            leaddCPU: CPUTime(of: leadd.process.processIdentifier).seconds(since: leaddBefore) / seconds * 100,
            peerCPU: CPUTime(of: server.processIdentifier).seconds(since: peerBefore) / seconds * 100)
    }

    /// The four peers of the channel tests.
    static func peers() -> [Peer] {
        let text = JSONObject(["text": "Olá! Sua proposta chegou."])
        return [
            Peer(
                name: "sms-kannel", command: ["kannel/start", "@DIR@", "@PORT@"], ports: 4,
                prepare: { try "bench\n".write(toFile: $0 + "/password", atomically: true, encoding: .utf8) },
                channel: { dir, port in
                    """
                      ch:
                        plugin: SMS
                        batch_size: 100
                        settings:
                          provider: kannel
                          base_url: http://127.0.0.1:\(port)/cgi-bin/sendsms
                          username: leadd
                          password: {file: \(dir)/password}
                          from: Loja
                    """
                }, to: "+5511987654321", content: text),
            Peer(
                name: "sms-twilio",
                command: [
                    "twilio_mock.py", "--dir", "@DIR@", "--port", "@PORT@", "--account-sid",
                    "AC0123456789abcdef0123456789abcdef", "--auth-token-file", "@DIR@/token",
                ],
                prepare: { try "bench\n".write(toFile: $0 + "/token", atomically: true, encoding: .utf8) },
                channel: { dir, port in
                    """
                      ch:
                        plugin: SMS
                        batch_size: 100
                        settings:
                          provider: twilio
                          base_url: http://127.0.0.1:\(port)
                          account_sid: AC0123456789abcdef0123456789abcdef
                          auth_token: {file: \(dir)/token}
                          from: "+15005550006"
                    """
                }, to: "+5511987654321", content: text),
            Peer(
                name: "whatsapp-cloud",
                command: [
                    "whatsapp_fake.py", "--dir", "@DIR@", "--port", "@PORT@", "--phone-number-id", "106540352242922",
                    "--token-file", "@DIR@/token",
                ],
                prepare: { try "bench\n".write(toFile: $0 + "/token", atomically: true, encoding: .utf8) },
                channel: { dir, port in
                    """
                      ch:
                        plugin: WhatsApp
                        batch_size: 100
                        settings:
                          base_url: http://127.0.0.1:\(port)
                          phone_number_id: "106540352242922"
                          access_token: {file: \(dir)/token}
                    """
                }, to: "+5511987654321", content: text),
            Peer(
                name: "email-smtp", command: ["smtp_server.py", "--dir", "@DIR@", "--port", "@PORT@"],
                channel: { _, port in
                    """
                      ch:
                        plugin: Email
                        batch_size: 100
                        settings:
                          url: smtp://127.0.0.1:\(port)
                          tls: none
                          from: "Loja <news@example.com>"
                    """
                }, to: "ana@example.org",
                content: JSONObject(["subject": "Sua proposta", "text": "Olá!", "html": "<p>Olá!</p>"])),
        ]
    }
}

/// CPU seconds used by a process and all its descendants (Kannel's start script runs three
/// daemons), from /proc.
struct CPUTime {
    let ticks: Int

    init(of pid: Int32) {
        var parents: [Int32: Int32] = [:]
        var usage: [Int32: Int] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let id = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after the command name: state ppid ... utime(14) stime(15) cutime cstime.
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 15, let parent = Int32(fields[1]) else { continue }
            parents[id] = parent
            usage[id] = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        }
        func descends(_ id: Int32) -> Bool {
            var current = id
            while let parent = parents[current], current > 1 {
                if current == pid { return true }
                current = parent
            }
            return current == pid
        }
        ticks = usage.filter { descends($0.key) }.values.reduce(0, +)
    }

    func seconds(since earlier: CPUTime) -> Double {
        Double(ticks - earlier.ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
