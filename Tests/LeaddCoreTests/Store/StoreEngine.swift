// The store tests run on both engines: the embedded SQLite file and PostgreSQL, on a private
// cluster that this test process starts once (Tests/Peers/postgres/start) on a loopback port and
// that stops when the process exits. Each test gets a database of its own.
import Foundation
import LeaddSync
import Testing

@testable import LeaddCore

enum StoreEngine: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// Both engines where PostgreSQL is installed (always under CI); else SQLite alone.
    static var all: [StoreEngine] {
        PostgresTestCluster.installed || ProcessInfo.processInfo.environment["CI"] != nil ? allCases : [.sqlite]
    }

    /// Opens the store of `directory` (the same database each time for the same directory).
    func open(_ directory: String, node: String = "test", lease: Duration = .seconds(15)) throws -> any QueueStore {
        switch self {
        case .sqlite:
            return try SQLiteQueueStore(path: directory + "/leadd.db")
        case .postgres:
            let url = try PostgresTestCluster.shared.database(for: directory)
            return try PostgresQueueStore(.init(url: url, pool: 2, node: node, lease: lease))
        }
    }
}

/// One private PostgreSQL cluster per test process.
final class PostgresTestCluster: Sendable {
    static let installed: Bool = {
        let found = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return found.contains { FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/postgres") }
    }()

    nonisolated(unsafe) private static var started: PostgresTestCluster?
    private static let lock = Locked(())

    static var shared: PostgresTestCluster {
        get throws {
            try lock.withLock { _ in
                if let started { return started }
                let cluster = try PostgresTestCluster()
                started = cluster
                return cluster
            }
        }
    }

    let base: String
    private let databases = Locked<[String: String]>([:])

    private init() throws {
        let directory = NSTemporaryDirectory() + "leadd-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = Int.random(in: 20_000...60_000)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Peers/postgres/start").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [directory, String(port)]
        // Not the test's own output: `swift test` waits for every writer of that pipe to finish.
        _ = FileManager.default.createFile(atPath: directory + "/start.log", contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/start.log")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(90)
        while !FileManager.default.fileExists(atPath: directory + "/ready") {
            guard process.isRunning, Date() < deadline else {
                throw PostgresError(message: "the test cluster did not start; see \(directory)/postgres.log")
            }
            usleep(50_000)
        }
        base = "postgresql://leadd@127.0.0.1:\(port)"
    }

    /// A database of its own for `key`, created on first use.
    func database(for key: String) throws -> String {
        try databases.withLock { known in
            if let url = known[key] { return url }
            let name = "t\(known.count)_\(UInt32.random(in: 0...UInt32.max))"
            let admin = try PostgresConnection(url: base + "/leadd")
            try admin.execute("CREATE DATABASE \(name)")
            let url = base + "/" + name
            known[key] = url
            return url
        }
    }
}
