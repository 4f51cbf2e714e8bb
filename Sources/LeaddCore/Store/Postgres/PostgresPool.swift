// A fixed set of PostgreSQL connections, each owned by a thread of its own, so libpq's blocking
// calls never occupy Swift's cooperative threads. A write runs in its own transaction; before it
// commits, the pool lets the store add what every write must carry (message counts, queue
// notifications); after it commits, the store hears of the effects. A connection that broke is
// opened again for the next job.
import Foundation
import LeaddSync

final class PostgresPool: @unchecked Sendable {
    typealias BeforeCommit = (PostgresConnection, _ slot: String, CommitEffects) throws -> Void
    typealias AfterCommit = @Sendable (CommitEffects) -> Void

    private protocol Job: AnyObject {
        var writes: Bool { get }
        func run(_ connection: PostgresConnection, _ effects: inout CommitEffects) throws
        func finish(_ error: (any Error)?)
    }

    private final class Box<T: Sendable>: Job {
        let writes: Bool
        let body: (PostgresConnection, inout CommitEffects) throws -> T
        let continuation: CheckedContinuation<T, any Error>
        var result: T?

        init(
            writes: Bool, body: @escaping (PostgresConnection, inout CommitEffects) throws -> T,
            continuation: CheckedContinuation<T, any Error>
        ) {
            self.writes = writes
            self.body = body
            self.continuation = continuation
        }

        func run(_ connection: PostgresConnection, _ effects: inout CommitEffects) throws {
            result = try body(connection, &effects)
        }

        func finish(_ error: (any Error)?) {
            if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: result!) }
        }
    }

    let url: String
    private let condition = NSCondition()
    private var jobs: [any Job] = []
    private var stopping = false
    private var running: Int
    private let beforeCommit: BeforeCommit
    private let afterCommit: AfterCommit
    /// Told of every commit under way, so a refresh of the counts never overlaps one.
    private let counts: CountsCache?

    /// Opens `size` connections (failing if the first cannot be opened) named `slot-0`, `slot-1`...
    init(
        url: String, size: Int, slot: String, counts: CountsCache? = nil, beforeCommit: @escaping BeforeCommit,
        afterCommit: @escaping AfterCommit
    ) throws {
        self.url = url
        self.counts = counts
        self.beforeCommit = beforeCommit
        self.afterCommit = afterCommit
        running = size
        var first: PostgresConnection? = try PostgresConnection(url: url)
        for index in 0..<size {
            // Handed to one thread only.
            nonisolated(unsafe) let connection = first
            first = nil
            let thread = Thread { [self] in self.loop(slot: "\(slot)/\(index)", connection: connection) }
            thread.name = "leadd-pg-\(index)"
            thread.start()
        }
    }

    /// Runs `body` inside a transaction; returns once it committed.
    func write<T: Sendable>(_ body: @escaping (PostgresConnection, inout CommitEffects) throws -> T) async throws -> T {
        try await submit(writes: true, body)
    }

    /// Runs `body` outside a transaction (each statement sees the latest commits).
    func read<T: Sendable>(_ body: @escaping (PostgresConnection) throws -> T) async throws -> T {
        try await submit(writes: false) { connection, _ in try body(connection) }
    }

    private func submit<T: Sendable>(
        writes: Bool, _ body: @escaping (PostgresConnection, inout CommitEffects) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else {
                continuation.resume(throwing: PostgresError(message: "the store is closed"))
                return
            }
            jobs.append(Box(writes: writes, body: body, continuation: continuation))
            condition.signal()
        }
    }

    /// Runs the jobs already submitted, then closes every connection.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func loop(slot: String, connection given: PostgresConnection?) {
        var connection = given
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            do {
                if connection == nil || connection?.isHealthy == false {
                    connection = nil
                    connection = try PostgresConnection(url: url)
                }
                try run(job, on: connection!, slot: slot)
            } catch {
                job.finish(error)
            }
        }
    }

    private func run(_ job: any Job, on connection: PostgresConnection, slot: String) throws {
        var effects = CommitEffects()
        guard job.writes else {
            try job.run(connection, &effects)
            job.finish(nil)
            return
        }
        try connection.execute("BEGIN")
        do {
            try job.run(connection, &effects)
            try beforeCommit(connection, slot, effects)
        } catch {
            if connection.isHealthy { try? connection.execute("ROLLBACK") }
            throw error
        }
        counts?.commitStarting()
        defer { counts?.commitEnded() }
        do {
            try connection.execute("COMMIT")
        } catch {
            if connection.isHealthy { try? connection.execute("ROLLBACK") }
            throw error
        }
        afterCommit(effects)
        job.finish(nil)
    }
}
