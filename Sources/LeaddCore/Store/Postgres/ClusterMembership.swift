// Which nodes share the store, and which tenants each serves.
//
// Every node renews its row in `nodes` once a second (times from the database's clock, so the
// nodes' own clocks need not agree). A node not heard of for `lease` is dead: the first live node
// to notice takes its in-flight messages back into the queue and removes its row. Tenants go to
// the live nodes by rendezvous hashing (the highest hash of node and tenant wins), so a change
// of membership moves only the tenants of the node that came or went.
import Foundation
import LeaddSync

final class ClusterMembership: Sendable {
    struct Member: Sendable, Equatable {
        var name: String
        var host: String
        var pid: Int
        var seenAt: Int64
    }

    private struct State {
        var live: [String]
        var members: [Member] = []
        var inFlight: [String: [String: Int64]] = [:]
        var databaseNow: Int64 = 0
    }

    let node: String
    let lease: Duration
    let instance = UUID().uuidString
    let host = ProcessInfo.processInfo.hostName
    private let state: Locked<State>

    /// Registers `settings.node`; throws when a live process elsewhere holds the name.
    init(settings: PostgresQueueStore.Settings, connection db: PostgresConnection) throws {
        node = settings.node
        lease = settings.lease
        state = Locked(State(live: [settings.node]))
        let now = try Self.databaseNow(db)
        let existing = try db.query("SELECT host, pid, seen_at FROM nodes WHERE name = $1", [node])
        if existing.count == 1 {
            let host = existing.string(0, 0)
            let pid = Int32(existing.int64(0, 1))
            let silent = now - existing.int64(0, 2)
            // The same host and a pid that is gone (or is this process): a restart of this node.
            let gone = host == self.host && (pid == getpid() || kill(pid, 0) != 0)
            if silent < lease.milliseconds && !gone {
                throw PostgresError(
                    message:
                        "node '\(node)' is in use by pid \(pid) on \(host) (seen \(silent) ms ago); give each node its own store.node"
                )
            }
        }
        try db.query(
            """
            INSERT INTO nodes(name, host, pid, instance, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $5)
            ON CONFLICT (name) DO UPDATE SET host = $2, pid = $3, instance = $4, started_at = $5, seen_at = $5
            """, [node, host, Int(getpid()), instance, now])
        _ = try heartbeat(db)
    }

    static func databaseNow(_ db: PostgresConnection) throws -> Int64 {
        try db.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint").int64(0, 0)
    }

    /// True when this node serves `tenant` now.
    func owns(_ tenant: String) -> Bool {
        state.withLock { Self.owner(of: tenant, among: $0.live) == node }
    }

    /// The share of channel-wide limits that is this node's.
    var share: Double { 1 / Double(max(1, state.withLock { $0.live.count })) }

    static func owner(of tenant: String, among nodes: [String]) -> String? {
        guard nodes.count > 1 else { return nodes.first }
        var best: (UInt64, String)?
        for node in nodes {
            let score = weight(node, tenant)
            if best == nil || score > best!.0 || (score == best!.0 && node < best!.1) { best = (score, node) }
        }
        return best?.1
    }

    /// A hash every node computes alike (Swift's Hasher is seeded per process): FNV-1a, then mixed.
    static func weight(_ node: String, _ tenant: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in node.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0xff) &* 0x100_0000_01b3
        for byte in tenant.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }

    struct Beat {
        var before: [String]
        var after: [String]
        /// Nodes whose lease ran out.
        var dead: [String]
    }

    /// Renews this node's lease and reads who else is alive.
    func heartbeat(_ db: PostgresConnection) throws -> Beat {
        let now = try Self.databaseNow(db)
        let renewed = try db.query(
            "UPDATE nodes SET seen_at = $3 WHERE name = $1 AND instance = $2 RETURNING 1", [node, instance, now])
        if renewed.count == 0 {
            // Another node found this one silent for a whole lease and took its messages back;
            // this node joins again (its late outcomes are ignored by the store's guards).
            try db.query(
                """
                INSERT INTO nodes(name, host, pid, instance, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $5)
                ON CONFLICT (name) DO UPDATE SET host = $2, pid = $3, instance = $4, seen_at = $5
                """, [node, host, Int(getpid()), instance, now])
        }
        let r = try db.query("SELECT name, host, pid, seen_at FROM nodes ORDER BY name")
        var members: [Member] = []
        var dead: [String] = []
        for row in 0..<r.count {
            let member = Member(
                name: r.string(row, 0), host: r.string(row, 1), pid: Int(r.int64(row, 2)), seenAt: r.int64(row, 3))
            if now - member.seenAt > lease.milliseconds && member.name != node {
                dead.append(member.name)
            } else {
                members.append(member)
            }
        }
        let inFlight = try db.query(
            """
            SELECT claimed_by, channel, count(*) FROM messages WHERE state = 1 AND claimed_by IS NOT NULL
            GROUP BY claimed_by, channel
            """)
        var held: [String: [String: Int64]] = [:]
        for row in 0..<inFlight.count {
            held[inFlight.string(row, 0), default: [:]][inFlight.string(row, 1)] = inFlight.int64(row, 2)
        }
        let live = members.map(\.name)
        let before = state.withLock { state in
            let before = state.live
            state.live = live
            state.members = members
            state.inFlight = held
            state.databaseNow = now
            return before
        }
        return Beat(before: before, after: live, dead: dead)
    }

    /// Removes the rows of dead nodes once their messages are back in the queue.
    func forget(_ dead: [String], _ db: PostgresConnection) throws {
        let cutoff = try Self.databaseNow(db) - lease.milliseconds
        try db.query(
            "DELETE FROM nodes WHERE name = ANY($1::text[]) AND seen_at < $2",
            [PostgresArray(dead.map { Optional($0) }), cutoff])
    }

    /// Leaves the cluster on a clean stop: the other nodes take this node's tenants at once.
    func leave(_ db: PostgresConnection) throws {
        try db.query("DELETE FROM nodes WHERE name = $1 AND instance = $2", [node, instance])
    }

    func status() -> ClusterStatus {
        state.withLock { state in
            ClusterStatus(
                node: node,
                nodes: state.members.map {
                    .init(
                        name: $0.name, host: $0.host, pid: $0.pid, silentFor: max(0, state.databaseNow - $0.seenAt),
                        inFlight: state.inFlight[$0.name] ?? [:])
                },
                lease: lease)
        }
    }
}
