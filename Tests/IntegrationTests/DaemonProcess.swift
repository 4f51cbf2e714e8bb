import Foundation
import LeaddClient
import LeaddProtocol

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
    private(set) var process: Process?
    var environment: [String: String] = [:]

    /// `channels` is the YAML under `channels:`; the default is one `sms` channel on the test plugin.
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
            \(channelYAML)
            """)
    }

    func writeConfig(_ yaml: String) throws {
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts leadd and waits until its socket answers.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: productsDirectory + "/leadd")
        process.arguments = ["--config", configPath]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let client = try? ControlClient(socketPath: socketPath), (try? client.call("status")) != nil { return }
            guard process.isRunning else { throw DaemonError.exited(process.terminationStatus, log: self.log) }
            usleep(20_000)
        }
        throw DaemonError.notReady(log: self.log)
    }

    func client() throws -> ControlClient { try ControlClient(socketPath: socketPath) }

    func call(_ method: String, _ params: JSONObject = JSONObject()) throws -> JSONValue {
        try client().call(method, params)
    }

    func signal(_ number: Int32) {
        if let pid = process?.processIdentifier { kill(pid, number) }
    }

    /// Waits for the process to end and returns its exit status.
    @discardableResult
    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        guard let process else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func kill9() {
        signal(SIGKILL)
        waitForExit()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    var sentLines: [String] {
        ((try? String(contentsOfFile: sentPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Polls `condition` until it holds or the timeout passes.
    func eventually(timeout: TimeInterval = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
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
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self)
    )
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
