// Offers leadd a fixed load of messages due at evenly spaced moments (spread over many tenants,
// each with its own rate limit) and reads from the test plugin's record when each was handed
// over, to measure how late sends are against their due time.
import Foundation
import LeaddClient
import LeaddProtocol

struct LatenessProbe {
    let socket: String
    /// The test plugin's record of the `paced` channel.
    let recordPath: String
    let perSecond: Int
    let seconds: Int
    let tenants: Int
    /// How long before its due time a message is enqueued.
    let lead = 0.5

    struct Result {
        var count: Int
        var p50: Double
        var p99: Double
        var max: Double
        var achieved: Double
    }

    func run() throws -> Result {
        let tick = 0.01
        let perTick = perSecond / 100
        let ticks = seconds * 100
        let start = Date().addingTimeInterval(lead + 0.5)
        let startMs = Int64((start.timeIntervalSince1970 * 1000).rounded(.up))
        let client = try ControlClient(socketPath: socket)
        var answered = 0
        var n = 0
        for k in 0..<ticks {
            // Enqueue tick k `lead` seconds before it is due.
            let sendAt = start.addingTimeInterval(Double(k) * tick - lead)
            let wait = sendAt.timeIntervalSinceNow
            if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
            let requests = (0..<perTick).map { i -> JSONValue in
                let due = startMs + Int64(k * 10) + Int64(i * 10 / perTick)
                defer { n += 1 }
                return ControlClient.request(
                    "message.send",
                    JSONObject([
                        "tenant": .string("t\(n % tenants)"), "channel": "paced", "to": "+5511987654321",
                        "text": "hello", "send_at": .string(Self.rfc3339(milliseconds: due)),
                    ]), id: Int64(i))
            }
            try client.writeLine(JSONValue.array(requests).serialized)
            // Keep a few batches in flight, no more, so the offered load stays even.
            while k - answered >= 4 {
                for answer in try client.readResponse().arrayValue ?? [] { _ = try ControlClient.result(of: answer) }
                answered += 1
            }
        }
        while answered < ticks {
            for answer in try client.readResponse().arrayValue ?? [] { _ = try ControlClient.result(of: answer) }
            answered += 1
        }
        let total = ticks * perTick
        let deadline = Date().addingTimeInterval(Double(seconds) + 60)
        while Date() < deadline {
            let sent = try client.call("queue.stats")["channels"]?["paced"]?["sent"]?.int64Value ?? 0
            if sent >= Int64(total) { break }
            usleep(50_000)
        }
        var lateness: [Double] = []
        var first = Int64.max
        var last = Int64.min
        let text = try String(contentsOfFile: recordPath, encoding: .utf8)
        for line in text.split(separator: "\n") {
            let record = try JSONValue.parse(String(line))
            guard let sent = record["sent_at_us"]?.int64Value, let due = record["due_at_ms"]?.int64Value else {
                continue
            }
            lateness.append(Double(sent) / 1000 - Double(due))
            first = min(first, sent)
            last = max(last, sent)
        }
        guard lateness.count == total else {
            throw BenchError("lateness probe: \(lateness.count) of \(total) messages were sent in time to be measured")
        }
        lateness.sort()
        return Result(
            count: lateness.count, p50: percentile(lateness, 0.5), p99: percentile(lateness, 0.99),
            max: lateness.last ?? 0, achieved: Double(total) / (Double(last - first) / 1e6))
    }

    static func rfc3339(milliseconds: Int64) -> String {
        let seconds = time_t(milliseconds / 1000)
        var parts = tm()
        var copy = seconds
        gmtime_r(&copy, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(milliseconds % 1000))
    }
}
