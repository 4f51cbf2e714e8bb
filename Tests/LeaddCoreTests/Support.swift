import Foundation
import Logging

@testable import LeaddCore

#if canImport(Glibc)
    import Glibc
#endif

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

/// A ControlService on a real store in `directory`, with `channels` (YAML under `channels:`) and
/// `daemon` (more YAML lines under `daemon:`, indented by two spaces).
func makeControlService(in directory: String, channels: String, daemon: String = "") throws -> (
    service: ControlService, runtime: DaemonRuntime, configPath: String
) {
    let path = directory + "/leadd.yaml"
    try """
    daemon:
      state_dir: \(directory)
      plugin_dir: \(buildProductsDirectory())
    \(daemon)
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

/// A client of a Unix stream socket that speaks in lines, with plain blocking calls.
final class LineSocketClient: Sendable {
    let fd: Int32

    init(path: String) throws {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw POSIXError(.ENAMETOOLONG) }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
        guard connected else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
    }

    func send(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            sent += n
        }
    }

    /// The next line the server writes, or nil when none comes within `timeout` (or it closes).
    func readLine(timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            guard poll(&poller, 1, max(milliseconds, 1)) > 0 else { continue }
            guard recv(fd, &byte, 1, 0) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// Ends the connection both ways; the server sees the client leave.
    func hangUp() { shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }
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
