import Foundation
import LeaddClient
import LeaddProtocol
import Testing

/// Where SwiftPM put leadd, leaddctl and the plugins: beside the test runner.
let productsDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    .path

/// A real leadd process on a temporary directory, for tests that need the whole daemon.
final class DaemonProcess {
    let directory: String
    var configPath: String { directory + "/leadd.yaml" }
    var socketPath: String { directory + "/control.sock" }
    var logPath: String { directory + "/leadd.log" }
    var sentPath: String { directory + "/sent.jsonl" }
    private(set) var process: ChildProcess?
    var environment: [String: String] = [:]

    /// `channels` is the YAML under `channels:` (`@SENT@` stands for `sentPath`); the default is one
    /// `sms` channel on the test plugin.
    init(channels: String? = nil, extraDaemon: String = "", name: String = #function) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        directory = NSTemporaryDirectory() + "leadd-it-\(safe)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let channelYAML =
            channels ?? """
                  sms:
                    plugin: TestChannel
                    settings:
                      file: \(directory)/sent.jsonl
                """
        try writeConfig(
            """
            daemon:
              state_dir: \(directory)/state
              socket: \(directory)/control.sock
              plugin_dir: \(productsDirectory)
            \(extraDaemon)
            channels:
            \(channelYAML.replacingOccurrences(of: "@SENT@", with: directory + "/sent.jsonl"))
            """)
    }

    func writeConfig(_ yaml: String) throws {
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts leadd and waits until its socket answers.
    func start() throws {
        let process = try ChildProcess(
            productsDirectory + "/leadd", ["--config", configPath], environment: environment, output: logPath,
            errors: logPath)
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let client = try? ControlClient(socketPath: socketPath), (try? client.call("status")) != nil { return }
            guard process.isRunning else { throw DaemonError.exited(process.wait(), log: self.log) }
            usleep(20_000)
        }
        throw DaemonError.notReady(log: self.log)
    }

    /// A connection whose requests fail after a minute rather than hang a test on a stuck daemon.
    func client() throws -> ControlClient { try ControlClient(socketPath: socketPath, timeout: .seconds(60)) }

    func call(_ method: String, _ params: JSONObject = JSONObject()) throws -> JSONValue {
        try client().call(method, params)
    }

    func signal(_ number: Int32) { process?.signal(number) }

    /// Waits for the process to end and returns its exit status.
    @discardableResult
    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        guard let process else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.isRunning ? nil : process.wait()
    }

    func kill9() {
        signal(SIGKILL)
        waitForExit()
    }

    /// Sends `count` messages due now (keys `<prefix>0`…) as one JSON-RPC batch; returns how many
    /// were acknowledged.
    @discardableResult
    func sendBatch(
        _ count: Int, keyPrefix: String, tenant: String = "acme", extra: JSONObject = JSONObject()
    ) throws -> Int {
        let batch = (0..<count).map {
            var params = sendParams(tenant: tenant, key: "\(keyPrefix)\($0)")
            for (key, value) in extra { params[key] = value }
            return ControlClient.request("message.send", params, id: Int64($0))
        }
        let client = try client()
        try client.writeLine(JSONValue.array(batch).serialized)
        return try client.readResponse().arrayValue?.filter { $0["result"] != nil }.count ?? 0
    }

    /// Waits until `count` messages are recorded as sent.
    func allSent(_ count: Int, timeout: TimeInterval = 30) throws -> Bool {
        try eventually(timeout: timeout) { try call("queue.stats")["total"]?["sent"] == .integer(Int64(count)) }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    var sentLines: [String] {
        ((try? String(contentsOfFile: sentPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The test plugin's records in the order it sent them.
    var sentRecords: [JSONValue] { sentLines.compactMap { try? JSONValue.parse($0) } }

    /// Polls `condition` until it holds or the timeout passes.
    func eventually(timeout: TimeInterval = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    /// The message counts of every channel together, by state (`scheduled`, `inflight`, `sent`...).
    func totals() throws -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for (state, n) in try call("queue.stats")["total"]?.objectValue ?? JSONObject() {
            counts[state] = n.int64Value
        }
        return counts
    }

    /// True when no message is queued or in flight. The plugin is handed only messages claimed
    /// from the queue (each one in flight until its outcome is recorded), so from here on nothing
    /// more is sent until a message is added or a campaign resumed.
    func isIdle() throws -> Bool {
        let counts = try totals()
        return counts["scheduled"] == 0 && counts["inflight"] == 0
    }

    deinit {
        if let process, process.isRunning {
            process.signal(SIGKILL)
            process.wait()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

enum DaemonError: Error, CustomStringConvertible {
    case exited(Int32, log: String)
    case notReady(log: String)

    var description: String {
        switch self {
        case .exited(let status, let log): "leadd exited with \(status):\n\(log)"
        case .notReady(let log): "leadd did not become ready:\n\(log)"
        }
    }
}

/// Runs a command to completion and returns its exit status, standard output and standard error.
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (
    status: Int32, out: String, err: String
) {
    // Files, not pipes: a pipe's write end inherited by a daemon started meanwhile would keep
    // the reader waiting for an end of file that never comes.
    let base = NSTemporaryDirectory() + "leadd-run-\(UUID().uuidString.prefix(8))"
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let child = try ChildProcess(
        executable, arguments, environment: environment, output: base + ".out", errors: base + ".err")
    let status = child.wait()
    let out = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    return (status, out, err)
}

/// The hours (UTC) of a sending window that is closed now and stays closed for at least an hour:
/// one hour, starting two hours from now.
func closedHoursUTC() -> String {
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = TimeZone(identifier: "UTC")!
    let start = (utc.component(.hour, from: Date()) + 2) % 24
    return String(format: "%02d:00-%02d:00", start, start + 1)
}

func sendParams(
    tenant: String = "acme", to: String = "+5511987654321", text: String = "hello", key: String? = nil,
    sendAt: String? = nil
)
    -> JSONObject
{
    var params = JSONObject(["tenant": .string(tenant), "channel": "sms", "to": .string(to), "text": .string(text)])
    params["idempotency_key"] = key.map { .string($0) }
    params["send_at"] = sendAt.map { .string($0) }
    return params
}

/// Every process-level test, one at a time: they start daemons and block on sockets and child
/// processes, which in parallel would crowd the two-thread machine and each other's timeouts.
@Suite(.serialized) enum Integration {}
