import Foundation
import LeaddProtocol
import TestSupport

/// A real provider peer (Kannel, an SMTP server, the Twilio mock, the WhatsApp fake) started from
/// Tests/Peers in a temporary directory, stopped by pid when the test is done. Each peer writes
/// `ready` into its directory once it serves and records what it received in `received.jsonl`.
final class PeerProcess {
    static let peersDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Peers").path

    let directory: String
    let port: Int
    private let process: ChildProcess

    /// Starts `command` (a path under Tests/Peers; `.py` files run with python3) with `arguments`,
    /// where `@DIR@` and `@PORT@` stand for the peer's directory and port. The peer takes `ports`
    /// consecutive ports from that one on (Kannel takes four).
    /// `port` restarts a peer where a stopped one served (an outage that ends).
    init(
        _ command: String, _ arguments: [String] = [], port: Int? = nil, ports: Int = 1, name: String = #function,
        prepare: (String) throws -> Void = { _ in }
    ) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let directory = NSTemporaryDirectory() + "leadd-peer-\(safe)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        try prepare(directory)
        // A port found free can be taken by someone else before the peer binds it: a peer that
        // did not start on a port chosen here is started again on another.
        var attempt = 1
        while true {
            let chosen = try port ?? freePort(consecutive: ports)
            do {
                process = try Self.start(command, arguments, in: directory, port: chosen)
                self.port = chosen
                return
            } catch is PeerError where port == nil && attempt < 3 {
                attempt += 1
            }
        }
    }

    /// Runs the peer and waits for its `ready` file; a peer that exits or takes too long is stopped.
    private static func start(_ command: String, _ arguments: [String], in directory: String, port: Int) throws
        -> ChildProcess
    {
        let script = Self.peersDirectory + "/" + command
        let expanded = arguments.map {
            $0.replacingOccurrences(of: "@DIR@", with: directory).replacingOccurrences(of: "@PORT@", with: "\(port)")
        }
        let (executable, argv) =
            command.hasSuffix(".py") ? ("/usr/bin/env", ["python3", script] + expanded) : (script, expanded)
        let process = try ChildProcess(
            executable, argv, output: directory + "/peer.out", errors: directory + "/peer.err")
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: directory + "/ready") {
            guard process.isRunning, Date() < deadline else {
                let err = (try? String(contentsOfFile: directory + "/peer.err", encoding: .utf8)) ?? ""
                terminate(process)
                throw PeerError(description: "\(command) did not start on port \(port):\n\(err)")
            }
            usleep(20_000)
        }
        return process
    }

    /// Every request or message the peer recorded, oldest first.
    var received: [JSONValue] {
        let text = (try? String(contentsOfFile: directory + "/received.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
    }

    /// Replaces the peer's fault rules (read on every request).
    func inject(_ rules: JSONValue) throws {
        try rules.serialized.write(toFile: directory + "/faults.json", atomically: true, encoding: .utf8)
    }

    func file(_ name: String) -> String {
        (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
    }

    /// Waits until `condition` holds, for up to `timeout` seconds.
    func eventually(timeout: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Stops the peer (by pid) and waits for it; its directory stays until the peer is released.
    func stop() {
        Self.terminate(process)
    }

    /// SIGTERM (the peers stop what they started on it), SIGKILL if that takes over 10 s.
    private static func terminate(_ process: ChildProcess) {
        guard process.isRunning else { return }
        process.signal(SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.signal(SIGKILL)
            process.wait()
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct PeerError: Error, CustomStringConvertible {
    var description: String
}
