// Dispatch with 1, 2 and 3 leadd nodes sharing one PostgreSQL store (a private cluster started
// here): the same messages over 100 tenants, queued due at one moment, timed from that moment
// until every outcome is recorded. Each node count gets a database of its own.
import Foundation
import LeaddClient
import LeaddProtocol

struct ClusterProbe {
    let directory: String
    let binaries: String
    let peers: String
    let messages: Int
    let nodeCounts: [Int]

    struct Result {
        var nodes: Int
        var importPerSecond: Double
        var dispatchPerSecond: Double
    }

    func run() throws -> [Result] {
        let cluster = try PostgresCluster(directory: directory + "/postgres-nodes", script: peers + "/postgres/start")
        defer { cluster.stop() }
        let admin = try PostgresConnection(url: cluster.url)
        defer { admin.close() }
        return try nodeCounts.map { count in
            progress("cluster: \(count) nodes, \(messages) messages")
            try admin.exec("CREATE DATABASE nodes\(count)")
            let url = String(cluster.url.dropLast("leadd".count)) + "nodes\(count)"
            let nodes = try (1...count).map { n in
                let home = directory + "/cluster-\(count)-\(n)"
                try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
                return try LeaddUnderTest(
                    directory: home, binaries: binaries,
                    config: """
                        store:
                          kind: postgres
                          url: \(url)
                          node: node\(n)
                          pool: 4
                        channels:
                          bench:
                            plugin: TestChannel
                            batch_size: 1000
                            concurrency: 4
                        """)
            }
            defer { for node in nodes { node.stop() } }
            let first = try ControlClient(socketPath: nodes[0].socketPath)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, (try first.call("status")["cluster"]?["nodes"]?.arrayValue?.count ?? 0) < count {
                usleep(50_000)
            }
            let db = try PostgresConnection(url: url)
            defer { db.close() }
            return try measure(nodes: nodes, count: count, db: db)
        }
    }

    private func measure(nodes: [LeaddUnderTest], count: Int, db: PostgresConnection) throws -> Result {
        let batches = max(1, messages / 1000)
        let connections = min(4, batches)
        let perConnection = batches / connections
        let total = perConnection * connections * 1000
        // Due after the import, estimated at 10,000 msgs/s at worst.
        let dueAt = Date().addingTimeInterval(Double(total) / 10_000 + 2)
        let dueText = dueAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let sockets = nodes.map(\.socketPath)
        let start = Date()
        try parallel(connections) { c in
            // Each connection to its own node, round robin, so every node takes part in the import.
            let socket = sockets[c % sockets.count]
            try pipeline(socket: socket, count: perConnection, window: 4) { b in
                let requests = (0..<1000).map { n in
                    var p = params(key: "cluster-\(c)-\(b)-\(n)", sendAt: dueText)
                    p["tenant"] = .string("tenant\(n % 100)")
                    return ControlClient.request("message.send", p, id: Int64(n))
                }
                return JSONValue.array(requests).serialized
            }
        }
        let imported = Date()
        while Date() < dueAt { usleep(1_000) }
        // The store's own count of sent messages, summed over every node's writers.
        while Int64(try db.query("SELECT coalesce(sum(n), 0) FROM counts WHERE state = 2")[0][0]) ?? 0 < Int64(total) {
            usleep(20_000)
        }
        let end = Date()
        return Result(
            nodes: count, importPerSecond: Double(total) / imported.timeIntervalSince(start),
            dispatchPerSecond: Double(total) / end.timeIntervalSince(max(dueAt, imported)))
    }
}
