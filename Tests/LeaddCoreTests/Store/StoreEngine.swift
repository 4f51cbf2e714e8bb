// The store tests run on both engines: the embedded SQLite file and PostgreSQL, on a private
// cluster that this test process starts once (Tests/Peers/postgres/start) on a loopback port and
// that stops when the process exits. Each test gets a database of its own.
import Foundation
import LeaddSync
import TestSupport
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

/// One private PostgreSQL cluster per test process, a database per test.
final class PostgresTestCluster: Sendable {
    static var installed: Bool { PrivatePostgres.installed }

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

    private let server: PrivatePostgres
    private let databases = Locked<[String: String]>([:])

    private init() throws { server = try PrivatePostgres() }

    /// A database of its own for `key`, created on first use.
    func database(for key: String) throws -> String {
        try databases.withLock { known in
            if let url = known[key] { return url }
            let name = "t\(known.count)_\(UInt32.random(in: 0...UInt32.max))"
            let admin = try PostgresConnection(url: server.url)
            try admin.execute("CREATE DATABASE \(name)")
            let url = server.base + "/" + name
            known[key] = url
            return url
        }
    }
}
