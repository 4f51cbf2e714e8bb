// A leadd process started by the benchmark on a temporary directory.
import Foundation
import LeaddClient
import LeaddProtocol

final class LeaddUnderTest {
    let directory: String
    let process = Process()
    var socketPath: String { directory + "/control.sock" }
    var pacedRecordPath: String { directory + "/paced.jsonl" }

    /// leadd with the benchmark's own channels: `bench` (unthrottled) and `paced` (for lateness).
    convenience init(
        directory: String, binaries: String, batchSize: Int, concurrency: Int, pollEvery: useconds_t = 20_000
    ) throws {
        try self.init(
            directory: directory, binaries: binaries, pollEvery: pollEvery,
            config: """
                channels:
                  bench:
                    plugin: TestChannel
                    batch_size: \(batchSize)
                    concurrency: \(concurrency)
                  # For the lateness probe: throttled, and recording when each message was handed over.
                  paced:
                    plugin: TestChannel
                    batch_size: 200
                    concurrency: 4
                    rate: 20000/s
                    burst: 2000
                    settings:
                      file: \(directory)/paced.jsonl
                tenants:
                  defaults:
                    rate: 1200/min
                    burst: 20
                  overrides:
                    acme: {rate: unlimited}
                """)
    }

    /// leadd with `config` (everything but the daemon section, which points into `directory`);
    /// returns once `status` answers, asking every `pollEvery` microseconds.
    init(directory: String, binaries: String, pollEvery: useconds_t = 20_000, config: String) throws {
        self.directory = directory
        let config = """
            daemon:
              state_dir: \(directory)/state
              socket: \(directory)/control.sock
              plugin_dir: \(binaries)
            \(config)
            """
        try config.write(toFile: directory + "/leadd.yaml", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: binaries + "/leadd")
        process.arguments = ["--config", directory + "/leadd.yaml", "--log-level", "warning"]
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let client = try? ControlClient(socketPath: socketPath), (try? client.call("status")) != nil { return }
            usleep(pollEvery)
        }
        throw BenchError("leadd did not start; see \(directory)")
    }

    /// Resident memory now and at its peak, in KiB, from /proc.
    func memory() -> (rss: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }

    /// Stops leadd with SIGTERM and waits for it; again is a no-op.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
