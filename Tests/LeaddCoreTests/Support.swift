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
