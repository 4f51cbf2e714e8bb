// leadd-bench: measures a real leadd (release build) against the raw SQLite ceiling of the same
// work on the same machine, in one run, and prints a table. Run from README:
//   swift build -c release && .build/release/leadd-bench
import ArgumentParser
import Foundation
import LeaddClient
import LeaddProtocol
import LeaddSync

@main
struct Benchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadd-bench", abstract: "Measure leadd against the raw SQLite ceiling of the same work.")

    @Option(help: "Messages for the batched import and dispatch phases (all queued when dispatch starts).")
    var messages = 1_000_000

    @Option(help: "Messages queued for the memory and restart measurement (0 skips it).")
    var queued = 10_000_000

    @Option(help: "Leads imported through lead.import.")
    var leads = 100_000

    @Option(help: "Messages sent one request at a time (pipelined).")
    var singles = 20_000

    @Option(help: "Client connections.")
    var connections = 4

    @Option(help: "Seconds of fixed offered load for the lateness probe.")
    var latenessSeconds = 60

    @Option(help: "Offered load of the lateness probe, messages per second.")
    var latenessRate = 10_000

    @Flag(help: "A quick run with small counts (checks that the benchmark works; numbers mean little).")
    var smoke = false

    @Flag(help: "Only the lateness probe (for working on it).")
    var latenessOnly = false

    @Flag(help: "Only the channel plugins against their local peers.")
    var channelsOnly = false

    @Flag(help: "Leave out the channel plugins (for working on the rest).")
    var noChannels = false

    @Option(help: "Messages sent through each channel plugin to its local peer.")
    var channelMessages = 2_000

    @Option(help: "Where the provider peers are (Kannel, SMTP, Twilio mock, WhatsApp fake).")
    var peers = "Tests/Peers"

    @Option(help: "Messages dispatched by 1, 2 and 3 nodes sharing one PostgreSQL store (0 skips it).")
    var clusterMessages = 200_000

    @Flag(help: "Only the 1, 2 and 3 node runs on PostgreSQL.")
    var clusterOnly = false

    @Flag(help: "Keep the temporary directory.")
    var keep = false

    /// Counts are sent in whole batches of 1,000 per connection: a smaller one would measure nothing.
    func validate() throws {
        guard !smoke else { return }
        for (option, value) in [("--messages", messages), ("--leads", leads), ("--queued", queued)]
        where value > 0 && value < connections * 1000 {
            throw ValidationError(
                "\(option) \(value) is less than one batch of 1,000 for each of the \(connections) connections: nothing would be sent (use 0 to skip, or at least \(connections * 1000))"
            )
        }
    }

    mutating func run() throws {
        if smoke {
            messages = 5_000
            queued = 20_000
            singles = 1_000
            leads = 4_000
            latenessSeconds = 2
            latenessRate = 1_000
            channelMessages = 200
            clusterMessages = 2_000
        }
        let binaries = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
        let directory = NSTemporaryDirectory() + "leadd-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: directory) } }

        if channelsOnly {
            printTable(
                ["channel plugin -> local peer", "leadd", "leadd CPU", "peer CPU", "bottleneck"],
                try channelRows(binaries, directory))
            return
        }
        if clusterOnly {
            if let missing = PostgresReference.unavailable(peers: peers) { throw BenchError(missing) }
            let results = try ClusterProbe(
                directory: directory, binaries: binaries, peers: peers, messages: clusterMessages,
                nodeCounts: [1, 2, 3]
            ).run()
            printTable(
                ["nodes on one PostgreSQL", "dispatch", "import"],
                results.map {
                    [
                        "\($0.nodes)", String(format: "%.0f msgs/s", $0.dispatchPerSecond),
                        String(format: "%.0f msgs/s", $0.importPerSecond),
                    ]
                })
            return
        }
        if latenessOnly {
            let leadd = try LeaddUnderTest(directory: directory, binaries: binaries, batchSize: 1000, concurrency: 4)
            defer { leadd.stop() }
            let reference = TimerReference()
            reference.start()
            let late = try LatenessProbe(
                socket: leadd.socketPath, recordPath: leadd.pacedRecordPath, perSecond: latenessRate,
                seconds: latenessSeconds, tenants: 1_000
            ).run()
            let timer = reference.finish()
            print(
                String(
                    format: "lateness at %d msgs/s for %d s: p50 %.2f ms, p99 %.2f ms, max %.2f ms, %.0f msgs/s",
                    latenessRate, latenessSeconds, late.p50, late.p99, late.max, late.achieved))
            print(
                String(
                    format: "a plain thread waking every 1 ms meanwhile: late p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                    timer.p50, timer.p99, timer.max))
            return
        }
        print("leadd-bench: \(messages) batched, \(singles) single, \(connections) connections, in \(directory)")
        let raw = try RawSQLiteReference(directory: directory, rows: messages).run()
        let postgresMissing = PostgresReference.unavailable(peers: peers)
        var postgres: ReferenceRates?
        if postgresMissing == nil {
            progress("PostgreSQL reference: \(messages) rows")
            postgres = try PostgresReference(directory: directory, peers: peers, rows: messages).run()
        }

        let leadd = try LeaddUnderTest(directory: directory, binaries: binaries, batchSize: 1000, concurrency: 4)
        defer { leadd.stop() }
        let far = "2031-01-01T00:00:00Z"
        let socket = leadd.socketPath
        let singles = self.singles
        let connections = self.connections

        // Single sends: one message per request, pipelined `window` deep on each connection.
        let singleRate = try measure(count: singles) {
            try parallel(connections) { c in
                try pipeline(socket: socket, count: singles / connections, window: 64) { n in
                    ControlClient.request(
                        "message.send", params(key: "single-\(c)-\(n)", sendAt: far), id: Int64(n)
                    ).serialized
                }
            }
        }

        // Lead import: leads into a one-step campaign, batches of 1,000 rows.
        let leadRate = try LeadImportProbe(socket: socket, leads: leads, connections: connections).run()

        // Batched import, due at a moment after it ends, so the dispatch phase starts from a full queue.
        let perConnection = messages / connections
        let estimate = Double(messages) / max(singleRate * 4, 10_000)
        // Time for writing the requests out beforehand, a few seconds at most.
        let dueAt = Date().addingTimeInterval(estimate * 2 + 8)
        let dueText = dueAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        // Written out before the clock starts: the load generator shares the two cores with leadd,
        // and a client's cost to make its requests is not leadd's.
        let lines = Locked([[String]](repeating: [], count: connections))
        try parallel(connections) { c in
            let mine = (0..<perConnection / 1000).map { b in
                let requests = (0..<1000).map { n in
                    sendRequest(id: n, key: "batch-\(c)-\(b)-\(n)", sendAt: dueText, tenant: "acme")
                }
                return "[" + requests.joined(separator: ",") + "]"
            }
            lines.withLock { $0[c] = mine }
        }
        let written = lines.withLock { $0 }
        progress("import: \(messages) messages in JSON-RPC batches of 1,000")
        let importStart = Date()
        try parallel(connections) { c in
            try pipeline(socket: socket, count: written[c].count, window: 4) { b in written[c][b] }
        }
        let importEnd = Date()
        let importRate = Double(perConnection / 1000 * 1000 * connections) / importEnd.timeIntervalSince(importStart)
        let dispatched = perConnection / 1000 * 1000 * connections
        let startedEarly = importEnd > dueAt

        // Dispatch: from the due moment until every message's outcome is durable, sampling `status`
        // round trips the whole time.
        let statusClient = try ControlClient(socketPath: leadd.socketPath)
        while Date() < dueAt { usleep(1_000) }
        progress("dispatch: \(dispatched) messages due now")
        var statusLatencies: [Double] = []
        var echoLatencies: [Double] = []
        let echo = try EchoReference()
        var dispatchEnd = Date()
        while true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let stats = try statusClient.call("queue.stats")
            statusLatencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            echoLatencies.append(echo.roundTrip())
            if (stats["total"]?["sent"]?.int64Value ?? 0) >= Int64(dispatched) {
                dispatchEnd = Date()
                break
            }
            usleep(2_000)
        }
        let dispatchRate = Double(dispatched) / dispatchEnd.timeIntervalSince(max(dueAt, importEnd))
        let memory = leadd.memory()
        statusLatencies.sort()
        echoLatencies.sort()

        progress("lateness probe: \(latenessRate) msgs/s for \(latenessSeconds) s")
        // Lateness at a fixed offered load, spread over 1,000 tenants with a limit each, beside
        // the machine's own timer noise.
        let reference = TimerReference()
        reference.start()
        let late = try LatenessProbe(
            socket: leadd.socketPath, recordPath: leadd.pacedRecordPath, perSecond: latenessRate,
            seconds: latenessSeconds, tenants: 1_000
        ).run()
        let timer = reference.finish()
        leadd.stop()

        var scale: QueueAtScaleProbe.Result?
        // About 200 bytes a queued message on disk, with room for the write-ahead log.
        let needed = Int64(queued) * 250 + (1 << 30)
        let free = freeBytes(directory)
        let tooLittleSpace = queued > 0 && free < needed ? "\(free >> 20) MiB free, needs \(needed >> 20) MiB" : nil
        if let tooLittleSpace { progress("queue at scale: skipped, \(tooLittleSpace) in \(directory)") }
        if queued > 0 && tooLittleSpace == nil {
            progress("queue at scale: importing \(queued) messages")
            scale = try QueueAtScaleProbe(
                directory: directory + "/at-scale", binaries: binaries, messages: queued, connections: connections
            ).run()
        }

        var nodes: [ClusterProbe.Result] = []
        if postgresMissing == nil && clusterMessages > 0 {
            nodes = try ClusterProbe(
                directory: directory, binaries: binaries, peers: peers, messages: clusterMessages,
                nodeCounts: [1, 2, 3]
            ).run()
        }

        func ratio(_ a: Double, _ b: Double) -> String { String(format: "%.2fx", a / b) }
        /// The ratio to the PostgreSQL queue doing the same work, when it ran.
        func peer(_ a: Double, _ b: Double?) -> String { b.map { ", " + ratio(a, $0) + " of PostgreSQL" } ?? "" }
        func rate(_ r: Double) -> String { String(format: "%.0f msgs/s", r) }
        var rows: [[String]] = [
            ["raw SQLite batched insert (1,000/txn)", rate(raw.insertPerSecond), "reference", ""],
            ["raw SQLite enqueue+claim+complete (1,000/txn)", rate(raw.cyclePerSecond), "reference", ""],
        ]
        if let postgres {
            rows += [
                [
                    "PostgreSQL SKIP LOCKED queue, batched insert (1,000/txn)", rate(postgres.insertPerSecond), "peer",
                    "",
                ],
                [
                    "PostgreSQL SKIP LOCKED queue, enqueue+claim+complete (1,000/txn)", rate(postgres.cyclePerSecond),
                    "peer", "",
                ],
            ]
        } else if let postgresMissing {
            rows.append(["PostgreSQL reference: skipped, \(postgresMissing)", "", "", ""])
        }
        rows += [
            [
                "leadd import, JSON-RPC batches of 1,000", rate(importRate),
                ratio(importRate, raw.insertPerSecond) + " of raw insert" + peer(importRate, postgres?.insertPerSecond),
                ">= 0.50x",
            ],
            [
                "leadd lead.import, batches of 1,000 leads (1 step)", rate(leadRate),
                ratio(leadRate, raw.insertPerSecond) + " of raw insert", "",
            ],
            [
                "leadd import, single message.send (pipelined)", rate(singleRate),
                ratio(singleRate, raw.insertPerSecond) + " of raw insert", "",
            ],
            [
                "leadd dispatch, due -> sent recorded", rate(dispatchRate),
                ratio(dispatchRate, raw.cyclePerSecond) + " of raw cycle"
                    + peer(dispatchRate, postgres?.cyclePerSecond),
                ">= 100,000 and >= 1.00x",
            ],
            [
                "status round trip during dispatch, p50", String(format: "%.2f ms", percentile(statusLatencies, 0.5)),
                "", "",
            ],
            [
                "status round trip during dispatch, p99", String(format: "%.2f ms", percentile(statusLatencies, 0.99)),
                "", "<= 2 ms",
            ],
            [
                "a plain thread's echo over a Unix socket meanwhile, p50 / p99",
                String(
                    format: "%.2f / %.2f ms", percentile(echoLatencies, 0.5), percentile(echoLatencies, 0.99)),
                "machine noise", "",
            ],
            ["leadd RSS after the dispatch run / peak", "\(memory.rss / 1024) / \(memory.peak / 1024) MiB", "", ""],
            [
                "lateness at \(latenessRate) msgs/s offered for \(latenessSeconds) s, 1,000 tenants, p50",
                String(format: "%.2f ms", late.p50), "", "",
            ],
            ["lateness p99", String(format: "%.2f ms", late.p99), "", "<= 5 ms"],
            ["lateness max", String(format: "%.2f ms", late.max), "", ""],
            ["throughput while paced (throttles on)", rate(late.achieved), "", ""],
            [
                "a plain thread waking every 1 ms meanwhile, late p50 / p99 / max",
                String(format: "%.2f / %.2f / %.2f ms", timer.p50, timer.p99, timer.max), "machine noise", "",
            ],
        ]
        if let tooLittleSpace { rows.append(["\(queued.formatted()) queued: skipped, \(tooLittleSpace)", "", "", ""]) }
        if let scale {
            let n = scale.queued.formatted()
            rows += [
                [
                    "import of \(n) messages for 1,000 tenants, due over 30 days", rate(scale.importPerSecond),
                    ratio(scale.importPerSecond, raw.insertPerSecond) + " of raw insert", "",
                ],
                ["RSS with \(n) queued", "\(scale.rssFull / 1024) MiB", "", "<= 200 MiB"],
                ["restart to READY with \(n) queued", String(format: "%.2f s", scale.restartSeconds), "", "<= 2 s"],
                ["RSS after that restart (2 s later)", "\(scale.rssRestarted / 1024) MiB", "", "<= 200 MiB"],
                ["store size on disk", "\(scale.storeBytes / 1_048_576) MiB", "", ""],
            ]
        }
        if startedEarly {
            rows.append(["note: the import ran past the due time; dispatch overlapped it", "", "", ""])
        }
        // Each plugin once, against its peer (a second run in the same directory would find the
        // first one's records).
        for result in nodes {
            rows.append([
                "leadd on PostgreSQL, \(result.nodes) node\(result.nodes == 1 ? "" : "s"): dispatch "
                    + "(\(clusterMessages) msgs, 100 tenants; import \(rate(result.importPerSecond)))",
                rate(result.dispatchPerSecond),
                ratio(result.dispatchPerSecond, dispatchRate) + " of leadd on SQLite"
                    + peer(result.dispatchPerSecond, postgres?.cyclePerSecond),
                "",
            ])
        }
        let channels = noChannels ? [] : try channelRows(binaries, directory)
        printTable(["measure", "leadd", "ratio", "target"], rows)
        if !channels.isEmpty {
            print()
            printTable(["channel plugin -> local peer", "leadd", "leadd CPU", "peer CPU", "bottleneck"], channels)
        }
    }

    /// One row per channel plugin: its rate against its peer, the CPU each side used, and which
    /// side limited it. The Python peers serve on one thread, so one of them near a full core is
    /// the bottleneck; when neither side is busy, the wait for each reply is.
    func channelRows(_ binaries: String, _ directory: String) throws -> [[String]] {
        guard FileManager.default.fileExists(atPath: peers + "/smtp_server.py") else {
            return [["channel plugins: skipped, no peers at \(peers) (run from the source tree)", "", "", "", ""]]
        }
        let probe = ChannelProbe(
            peersDirectory: URL(fileURLWithPath: peers).standardizedFileURL.path, binaries: binaries,
            directory: directory, messages: channelMessages)
        return try ChannelProbe.peers().map { peer in
            progress("channel \(peer.name): \(channelMessages) messages")
            let r = try probe.run(peer)
            let bottleneck =
                r.peerCPU >= 80
                ? "peer (a core busy)"
                : r.leaddCPU >= 80 ? "leadd (a core busy)" : "neither: round trips (8 transfers in flight)"
            return [
                "\(r.peer), \(r.messages) messages", String(format: "%.0f msgs/s", r.perSecond),
                String(format: "%.0f%%", r.leaddCPU), String(format: "%.0f%%", r.peerCPU), bottleneck,
            ]
        }
    }

    func measure(count: Int, _ body: () throws -> Void) throws -> Double {
        let start = Date()
        try body()
        return Double(count) / Date().timeIntervalSince(start)
    }
}

/// Bytes free for an unprivileged writer on the file system holding `path`.
func freeBytes(_ path: String) -> Int64 {
    var stats = statvfs()
    guard statvfs(path, &stats) == 0 else { return 0 }
    return Int64(stats.f_bavail) * Int64(stats.f_frsize)
}

/// A line on stderr as each phase starts, so a profiler can be pointed at one phase.
func progress(_ text: String) {
    FileHandle.standardError.write(Data("leadd-bench: \(text)\n".utf8))
}

func params(key: String, sendAt: String) -> JSONObject {
    JSONObject([
        "tenant": "acme", "channel": "bench", "to": "+5511987654321", "text": "hello",
        "idempotency_key": .string(key), "send_at": .string(sendAt),
    ])
}

/// Writes `count` lines made by `line`, keeping at most `window` unanswered, and checks every answer.
func pipeline(socket: String, count: Int, window: Int, line: (Int) -> String) throws {
    let client = try ControlClient(socketPath: socket)
    var sent = 0
    var received = 0
    while received < count {
        while sent < count && sent - received < window {
            try client.writeLine(line(sent))
            sent += 1
        }
        // An answer is parsed only when it holds an error, to report it: the load generator
        // shares the two cores with leadd.
        let answer = try client.readLine()
        if answer.range(of: #""error""#) != nil {
            let response = try JSONValue.parse(answer)
            for answer in response.arrayValue ?? [response] { _ = try ControlClient.result(of: answer) }
        }
        received += 1
    }
}

/// Runs `body(0..<n)` on n threads and rethrows the first error.
/// Runs `body` on `n` threads of load generator. They run at the nice value of leadd's own bulk
/// threads (10 above its event loops): at nice 0 they would take a core ahead of leadd's writer
/// whenever both wait for one, and the figure would measure the client's priority over leadd.
func parallel(_ n: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let errors = ErrorBox()
    let group = DispatchGroup()
    for index in 0..<n {
        group.enter()
        Thread {
            // On Linux this applies to the calling thread only.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            do { try body(index) } catch { errors.set(error) }
            group.leave()
        }.start()
    }
    group.wait()
    if let error = errors.first { throw error }
}

final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?
    func set(_ e: any Error) { lock.withLock { if error == nil { error = e } } }
    var first: (any Error)? { lock.withLock { error } }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        "| "
            + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(
                separator: " | ")
            + " |"
    }
    print(line(header))
    print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
    for row in rows { print(line(row)) }
}
