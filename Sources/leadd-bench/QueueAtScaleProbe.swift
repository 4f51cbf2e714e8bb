// Memory and restart time with a large queue: a leadd of its own is filled through the socket
// with messages for 1,000 tenants, due over the next 30 days, then measured, stopped with SIGTERM
// and started again on the same store. Each batch of 1,000 is one tenant's (as imports come),
// the tenants taking turns.
import Foundation
import LeaddClient
import LeaddProtocol

struct QueueAtScaleProbe {
    struct Result {
        var queued: Int
        var importPerSecond: Double
        var rssFull: Int
        var restartSeconds: Double
        var rssRestarted: Int
        var storeBytes: Int64
    }

    let directory: String
    let binaries: String
    let messages: Int
    let connections: Int

    func run() throws -> Result {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var leadd: LeaddUnderTest? = try LeaddUnderTest(
            directory: directory, binaries: binaries, batchSize: 1000, concurrency: 4)
        defer { leadd?.stop() }
        let socket = leadd!.socketPath
        let perConnection = messages / connections / 1000 * 1000
        let now = Int(Date().timeIntervalSince1970)
        let start = Date()
        try parallel(connections) { c in
            try pipeline(socket: socket, count: perConnection / 1000, window: 4) { b in
                let requests = (0..<1000).map { n in
                    let serial = (c * perConnection) + b * 1000 + n
                    let tenant = (serial / 1000) % 1000
                    // Spread over the month ahead, as a real backlog would be.
                    let due = now + 3600 + serial % 2_592_000
                    return sendRequest(id: n, key: "q-\(serial)", sendAt: utcTime(due), tenant: "tenant-\(tenant)")
                }
                return "[" + requests.joined(separator: ",") + "]"
            }
            if c == 0 { progress("queue at scale: first connection done") }
        }
        let queued = perConnection * connections
        let importRate = Double(queued) / Date().timeIntervalSince(start)
        let full = leadd!.memory().rss
        leadd!.stop()
        leadd = nil
        progress("queue at scale: restarting with \(queued) queued")
        let restartStart = Date()
        let restarted = try LeaddUnderTest(
            directory: directory, binaries: binaries, batchSize: 1000, concurrency: 4, pollEvery: 2_000)
        let restartSeconds = Date().timeIntervalSince(restartStart)
        leadd = restarted
        let stats = try ControlClient(socketPath: restarted.socketPath).call("queue.stats")
        let reported = stats["total"]?["scheduled"]?.int64Value ?? 0
        guard reported == Int64(queued) else {
            throw BenchError("after the restart leadd reports \(reported) scheduled, expected \(queued)")
        }
        sleep(2)
        let storeBytes = storeSize(directory + "/state")
        return Result(
            queued: queued, importPerSecond: importRate, rssFull: full, restartSeconds: restartSeconds,
            rssRestarted: restarted.memory().rss, storeBytes: storeBytes)
    }

    private func storeSize(_ path: String) -> Int64 {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return files.reduce(0) { total, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
            return total + ((attributes?[.size] as? Int64) ?? 0)
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds, without Foundation's formatter (millions of calls).
func utcTime(_ seconds: Int) -> String {
    var t = time_t(seconds)
    var parts = tm()
    gmtime_r(&t, &parts)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
        + "\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}

/// One `message.send` request, written out directly (ten million of them).
func sendRequest(id: Int, key: String, sendAt: String, tenant: String) -> String {
    #"{"jsonrpc":"2.0","id":\#(id),"method":"message.send","params":{"tenant":"\#(tenant)","channel":"bench","to":"+5511987654321","text":"hello","idempotency_key":"\#(key)","send_at":"\#(sendAt)"}}"#
}
