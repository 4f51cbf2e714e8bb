// Lanes by number on the SQLite store.
//
// The `queue` table is keyed by (lane, due_at, id), with the lane an integer that the `lanes`
// table maps to (channel, priority, tenant, zone, campaign). Every queued message is inserted
// into that key and deleted from it again, and an integer compares in a fraction of the time of
// five columns (17% fewer instructions for enqueue, claim and outcome together, measured with
// callgrind on the bare SQL).
//
// The writer keeps the numbers in memory. A lane new to it is numbered inside the writer's
// transaction, and journalled, so a rolled-back job forgets the number with its row. Lanes with
// nothing queued are dropped when the store opens and once many lanes have been added since, so
// the table and the map stay the size of the lanes in use.
import LeaddSync

final class LaneNumbers: TransactionJournal {
    struct Key: Hashable {
        var channel: String
        var lane: QueueLane
    }

    private enum Change {
        case added(Key)
        case removed(Key, Int64)
    }

    private struct State {
        var numbers: [Key: Int64] = [:]
        /// Consecutive rows mostly share a lane: it is compared before anything is hashed.
        var last: (key: Key, number: Int64)?
        var journal: [Change] = []
        var addedSincePrune = 0
    }

    private let state = Locked(State())
    /// Lanes added before empty ones are looked for again, at least.
    private let pruneAfter: Int

    init(pruneAfter: Int = 4096) { self.pruneAfter = pruneAfter }

    var count: Int { state.withLock { $0.numbers.count } }

    /// Deletes the lanes nothing waits in, answering with their numbers.
    private static let dropEmpty =
        "DELETE FROM lanes WHERE NOT EXISTS (SELECT 1 FROM queue WHERE queue.lane = lanes.id) RETURNING id"

    /// Drops the lanes nothing waits in, then reads the rest (at open, before any job runs).
    func load(_ db: SQLiteConnection) throws {
        try db.statement(Self.dropEmpty, cached: false).run()
        let s = try db.statement("SELECT id, channel, priority, tenant, zone, campaign FROM lanes", cached: false)
        var numbers: [Key: Int64] = [:]
        while try s.step() {
            numbers[Key(channel: s.string(1), lane: SQLiteQueueStore.lane(s, from: 2))] = s.int64(0)
        }
        state.withLock { $0 = State(numbers: numbers) }
    }

    /// The number of a lane that may hold rows; nil when it has none in the queue.
    func existing(_ channel: String, _ lane: QueueLane) -> Int64? {
        state.withLock { s in
            if let last = s.last, last.key.lane == lane, last.key.channel == channel { return last.number }
            let key = Key(channel: channel, lane: lane)
            guard let number = s.numbers[key] else { return nil }
            s.last = (key, number)
            return number
        }
    }

    /// The number of a lane, adding it to `lanes` inside the open transaction when it is new.
    func number(_ channel: String, _ lane: QueueLane, _ db: SQLiteConnection) throws -> Int64 {
        if let known = existing(channel, lane) { return known }
        let key = Key(channel: channel, lane: lane)
        if state.withLock({ $0.addedSincePrune >= max(pruneAfter, $0.numbers.count) }) { try prune(db) }
        // The upsert answers with the number even for a row the map lacks, which should not happen.
        let insert = try db.statement(
            """
            INSERT INTO lanes(channel, priority, tenant, zone, campaign) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(channel, priority, tenant, zone, campaign) DO UPDATE SET channel = excluded.channel RETURNING id
            """)
        defer { insert.reset() }
        insert.bind(1, channel)
        insert.bind(2, Int64(lane.priority.rawValue))
        insert.bind(3, lane.tenant)
        insert.bind(4, lane.zone)
        insert.bind(5, lane.campaign)
        guard try insert.step() else { throw SQLiteError(code: 1, message: "no number for lane \(lane)") }
        let number = insert.int64(0)
        // RETURNING reads its rows only once stepped to the end.
        while try insert.step() {}
        state.withLock { s in
            s.numbers[key] = number
            s.last = (key, number)
            s.journal.append(.added(key))
            s.addedSincePrune += 1
        }
        return number
    }

    /// Drops the lanes nothing waits in, from the table and the map, inside the open transaction.
    private func prune(_ db: SQLiteConnection) throws {
        let delete = try db.statement(Self.dropEmpty)
        defer { delete.reset() }
        var dropped = Set<Int64>()
        while try delete.step() { dropped.insert(delete.int64(0)) }
        state.withLock { s in
            s.addedSincePrune = 0
            s.last = nil
            guard !dropped.isEmpty else { return }
            for (key, number) in s.numbers where dropped.contains(number) {
                s.numbers[key] = nil
                s.journal.append(.removed(key, number))
            }
        }
    }

    // MARK: TransactionJournal

    func mark() -> Int { state.withLock { $0.journal.count } }

    func rollback(to mark: Int) {
        state.withLock { s in
            s.last = nil
            while s.journal.count > mark {
                switch s.journal.removeLast() {
                case .added(let key): s.numbers[key] = nil
                case .removed(let key, let number): s.numbers[key] = number
                }
            }
        }
    }

    func commit() { state.withLock { $0.journal.removeAll(keepingCapacity: true) } }
}

/// Adds and removes `queue` rows inside a writer job.
struct QueueTable {
    private let db: SQLiteConnection
    private let lanes: LaneNumbers
    private let insert: SQLiteStatement
    private let delete: SQLiteStatement

    init(_ db: SQLiteConnection, _ lanes: LaneNumbers) throws {
        self.db = db
        self.lanes = lanes
        insert = try db.statement("INSERT OR IGNORE INTO queue(lane, due_at, id) VALUES (?, ?, ?)")
        delete = try db.statement("DELETE FROM queue WHERE lane = ? AND due_at = ? AND id = ?")
    }

    /// Queues `row` and notes it for the schedulers; false when it was queued already.
    @discardableResult
    func add(_ row: QueuedRow, _ effects: inout CommitEffects) throws -> Bool {
        let lane = try lanes.number(row.channel, row.lane, db)
        guard try Self.run(insert, lane, row.entry, db) else { return false }
        effects.queued.append(row)
        return true
    }

    /// Takes `row` out of the queue; false when it was not there.
    func remove(_ row: QueuedRow) throws -> Bool {
        guard let lane = lanes.existing(row.channel, row.lane) else { return false }
        return try Self.run(delete, lane, row.entry, db)
    }

    /// Takes every row of a lane out of the queue.
    func removeLane(_ channel: String, _ lane: QueueLane) throws {
        guard let number = lanes.existing(channel, lane) else { return }
        let s = try db.statement("DELETE FROM queue WHERE lane = ?")
        defer { s.reset() }
        s.bind(1, number)
        try s.run()
    }

    private static func run(_ s: SQLiteStatement, _ lane: Int64, _ entry: QueueEntry, _ db: SQLiteConnection) throws
        -> Bool
    {
        s.reset()
        s.bind(1, lane)
        s.bind(2, entry.dueAt)
        s.bind(3, entry.id)
        try s.run()
        return db.changes == 1
    }
}
