import Foundation
import Logging

@testable import LeaddCore

/// A fresh directory under the system temp dir, removed by the caller when done.
func temporaryDirectory(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "leadd-tests-\(safe)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Where SwiftPM put the built products (plugins sit beside the test runner).
func buildProductsDirectory() -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
}

/// A logger that drops everything, so test output shows only test results.
let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// A ControlService on a real store in `directory`, with `channels` (YAML under `channels:`).
func makeControlService(in directory: String, channels: String) throws -> (
    service: ControlService, runtime: DaemonRuntime, configPath: String
) {
    let path = directory + "/leadd.yaml"
    try """
    daemon:
      state_dir: \(directory)
      plugin_dir: \(buildProductsDirectory())
    channels:
    \(channels)
    """.write(toFile: path, atomically: true, encoding: .utf8)
    let config = try ConfigDecoder.load(path: path)
    let store = try SQLiteQueueStore(path: directory + "/leadd.db")
    let runtime = DaemonRuntime(
        config: ConfigHolder(config, path: path), store: store, clock: WallClock(), logger: quietLogger)
    return (ControlService(runtime: runtime, logger: quietLogger), runtime, path)
}

/// Runs `body` on a thread of its own, so a blocking call does not hold a thread of the
/// cooperative pool (two on this machine) that the code under test needs.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// Runs the tests matching `filter` in a child process of this same test binary, with `environment`
/// added, and returns its exit status (128 + signal when killed) and what it wrote. For tests whose
/// failure may be a crash: the child dies, the runner reports it.
func runThisTestBinary(filter: String, environment: [String: String]) async throws -> (status: Int32, output: String) {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    return try await runProgram(
        executable, ["--testing-library", "swift-testing", "--filter", filter], environment: environment)
}

/// Runs `executable` with `arguments` (and `environment` added to this process's), waits for it on
/// a thread of its own and returns its exit status (128 + signal when killed) and its output and
/// errors together.
func runProgram(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (
    status: Int32, output: String
) {
    let output = temporaryDirectory() + "/child.log"
    defer { try? FileManager.default.removeItem(atPath: (output as NSString).deletingLastPathComponent) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var variables = ProcessInfo.processInfo.environment
    for (key, value) in environment { variables[key] = value }
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
    let child = pid
    let raw: Int32 = await onOwnThread {
        var raw: Int32 = 0
        while waitpid(child, &raw, 0) < 0 && errno == EINTR {}
        return raw
    }
    let signal = raw & 0x7F
    let status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    return (status, text)
}
