// A private PostgreSQL cluster for tests (Tests/Peers/postgres/start): a temp directory, a
// loopback port, stopped with the test process (or by `stop()`).
import Foundation

public final class PrivatePostgres: @unchecked Sendable {
    /// True when Debian's PostgreSQL server is installed.
    public static let installed: Bool = {
        let found = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return found.contains { FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/postgres") }
    }()

    public let directory: String
    public let port: Int
    private var process = Process()

    /// The server's address without a database: append `/leadd` (created by the script) or another.
    public var base: String { "postgresql://leadd@127.0.0.1:\(port)" }
    public var url: String { base + "/leadd" }

    public init() throws {
        directory = NSTemporaryDirectory() + "leadd-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try freePort()
        try launch()
    }

    private func launch() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/postgres/start").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [directory, String(port)]
        // Not the test's own output: `swift test` waits for every writer of that pipe to finish.
        _ = FileManager.default.createFile(atPath: directory + "/start.log", contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/start.log")
        process.standardOutput = log
        process.standardError = log
        try? FileManager.default.removeItem(atPath: directory + "/ready")
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(90)
        while !FileManager.default.fileExists(atPath: directory + "/ready") {
            guard process.isRunning, Date() < deadline else {
                throw PrivatePostgresError(
                    "PostgreSQL did not start; see \(directory)/start.log and \(directory)/postgres.log")
            }
            usleep(50_000)
        }
    }

    /// The first column of each row `sql` returns from database `leadd`, through Debian's psql.
    public func query(_ sql: String) throws -> [String] {
        let bin =
            (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last
            .map { "/usr/lib/postgresql/\($0)/bin/psql" } ?? "psql"
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = [url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PrivatePostgresError("psql failed on: \(sql)") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Starts the server again on the same data and port (after `stop()`).
    public func restart() throws {
        stop()
        try launch()
    }

    /// Fast shutdown of the server by its own pid (a signal to the script may find it blocked:
    /// a child inherits the signal mask of the thread that started it), then the script ends.
    public func stop() {
        guard process.isRunning else { return }
        let pidFile = (try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)) ?? ""
        if let pid = pidFile.split(separator: "\n").first.flatMap({ Int32($0) }) { kill(pid, SIGINT) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

public struct PrivatePostgresError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
