// A node's own connection to the others, on a thread of its own: it listens for the lanes other
// nodes add rows to (LISTEN/NOTIFY; a notice names lanes and their earliest due time, never
// rows, so a batch of any size fits in a few notices), renews this node's lease once a second,
// takes back the in-flight messages of dead nodes, refreshes the cluster-wide counts and, when
// membership changes, tells the schedulers of the lanes this node now serves. After a lost
// connection it tells them of every lane it serves, since notices may have been missed.
import Foundation
import Logging
import Synchronization

final class ClusterLink: Sendable {
    static let channel = "leadd_queue"
    /// A notice's payload stays under PostgreSQL's limit (8,000 bytes).
    static let noticeBytes = 7_000

    private let store: any PostgresQueueStoreHandle
    private let url: String
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(url: String, store: any PostgresQueueStoreHandle, logger: Logger) {
        self.url = url
        self.store = store
        self.logger = logger
    }

    func start(connection: PostgresConnection) {
        nonisolated(unsafe) let first = connection
        let thread = Thread { [self] in self.loop(first) }
        thread.name = "leadd-pg-cluster"
        thread.start()
    }

    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        done.wait()
    }

    private func loop(_ first: PostgresConnection) {
        var db: PostgresConnection? = first
        var missedNotices = false
        var nextBeat = Date()
        defer { done.signal() }
        while !stopping.load(ordering: .acquiring) {
            do {
                if db == nil || db?.isHealthy == false {
                    db = nil
                    db = try PostgresConnection(url: url)
                    missedNotices = true
                }
                let connection = db!
                try connection.execute("LISTEN \(Self.channel)")
                if missedNotices {
                    missedNotices = false
                    try store.reopenOwnedLanes(connection, onlyNew: nil)
                }
                while !stopping.load(ordering: .acquiring) {
                    let wait = max(0, nextBeat.timeIntervalSinceNow)
                    var fd = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
                    _ = poll(&fd, 1, Int32(min(wait, 0.25) * 1000))
                    try handle(connection.notifications())
                    if Date() >= nextBeat {
                        nextBeat = Date().addingTimeInterval(1)
                        try store.beat(connection)
                    }
                }
            } catch {
                logger.warning("the cluster link to PostgreSQL failed, will try again: \(error)")
                db = nil
                for _ in 0..<10 where !stopping.load(ordering: .acquiring) { usleep(100_000) }
            }
        }
        if let db { try? store.leave(db) }
    }

    private func handle(_ notices: [(String, String)]) {
        var lanes: [ReopenedLane] = []
        for (_, payload) in notices {
            guard let notice = Self.decode(payload), notice.node != store.node else { continue }
            lanes.append(contentsOf: notice.lanes.filter { store.owns($0.lane.tenant) })
        }
        store.tellReopened(lanes)
    }

    // MARK: - Notices

    struct Notice {
        var node: String
        var lanes: [ReopenedLane]
    }

    /// Sends, in the committing transaction, notices of the lanes `rows` entered (delivered at commit).
    static func announce(_ db: PostgresConnection, node: String, _ rows: [QueuedRow]) throws {
        guard !rows.isEmpty else { return }
        var earliest: [QueuedLaneKey: Int64] = [:]
        for row in rows {
            let key = QueuedLaneKey(channel: row.channel, lane: row.lane)
            earliest[key] = min(earliest[key] ?? .max, row.entry.dueAt)
        }
        var items: [String] = []
        var size = 0
        for (key, due) in earliest {
            let item = encode([
                key.channel, String(key.lane.priority.rawValue), key.lane.tenant, key.lane.zone, key.lane.campaign,
                String(due),
            ])
            if size + item.count > noticeBytes, !items.isEmpty {
                try send(db, node: node, items)
                items = []
                size = 0
            }
            items.append(item)
            size += item.count + 1
        }
        if !items.isEmpty { try send(db, node: node, items) }
    }

    private static func send(_ db: PostgresConnection, node: String, _ items: [String]) throws {
        let payload = "[" + encode([node]) + "," + items.joined(separator: ",") + "]"
        try db.query("SELECT pg_notify($1, $2)", [channel, payload])
    }

    private static func encode(_ strings: [String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: strings)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ payload: String) -> Notice? {
        guard let outer = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [[String]],
            let node = outer.first?.first
        else { return nil }
        let lanes = outer.dropFirst().compactMap { item -> ReopenedLane? in
            guard item.count == 6, let priority = Int(item[1]).flatMap(Priority.init(rawValue:)),
                let due = Int64(item[5])
            else { return nil }
            return ReopenedLane(
                channel: item[0],
                lane: QueueLane(priority: priority, tenant: item[2], zone: item[3], campaign: item[4]),
                from: due)
        }
        return Notice(node: node, lanes: lanes)
    }

    private struct QueuedLaneKey: Hashable {
        var channel: String
        var lane: QueueLane
    }
}

/// What the cluster link needs from the store.
protocol PostgresQueueStoreHandle: AnyObject, Sendable {
    var node: String { get }
    func owns(_ tenant: String) -> Bool
    func tellReopened(_ lanes: [ReopenedLane])
    /// Renews the lease, takes back dead nodes' messages, refreshes counts, follows membership.
    func beat(_ db: PostgresConnection) throws
    /// Tells the schedulers of every lane this node serves (or of those whose tenant is not in `onlyNew`'s old owner set).
    func reopenOwnedLanes(_ db: PostgresConnection, onlyNew previous: [String]?) throws
    func leave(_ db: PostgresConnection) throws
}
