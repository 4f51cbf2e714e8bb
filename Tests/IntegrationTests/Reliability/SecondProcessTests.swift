import Foundation
import LeaddProtocol
import Testing

/// One process owns a store and a socket: a second leadd started on either refuses, names what
/// holds it, and the first one carries on without a message sent twice.
extension Integration {
    @Suite struct SecondProcessTests {
        /// Starts leadd on `config` and waits up to 20 s for it to exit; nil when it kept running
        /// (it is then killed).
        func runToExit(config: String, in directory: String) throws -> (status: Int32?, log: String) {
            let log = directory + "/second-\(UUID().uuidString.prefix(6)).log"
            let child = try ChildProcess(
                productsDirectory + "/leadd", ["--config", config], environment: [:], output: log, errors: log)
            let deadline = Date().addingTimeInterval(20)
            while child.isRunning && Date() < deadline { usleep(20_000) }
            var status: Int32?
            if child.isRunning {
                child.signal(SIGKILL)
                _ = child.wait()
            } else {
                status = child.wait()
            }
            return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }

        @Test func aSecondLeaddOnTheSameStateDirectoryRefusesToStart() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        batch_size: 10
                        concurrency: 2
                        settings:
                          file: "@SENT@"
                          delay_ms: 400
                    """)
            try daemon.start()
            #expect(try daemon.sendBatch(200, keyPrefix: "k") == 200)
            #expect(
                daemon.eventually(timeout: 20) {
                    (try? daemon.call("queue.stats")["total"]?["inflight"]) != .integer(0)
                })
            let config = daemon.directory + "/second.yaml"
            try String(contentsOfFile: daemon.configPath, encoding: .utf8).replacingOccurrences(
                of: daemon.socketPath, with: daemon.directory + "/second.sock"
            ).write(toFile: config, atomically: true, encoding: .utf8)
            let second = try runToExit(config: config, in: daemon.directory)
            #expect(second.status == 75, "\(second.log)")
            let pid = try #require(daemon.process?.pid)
            #expect(second.log.contains("locked by process \(pid)"), "\(second.log)")
            // The first goes on, and each message went out once.
            #expect(try daemon.allSent(200, timeout: 60))
            #expect(daemon.sentLines.count == 200)
        }

        @Test func aSecondLeaddOnALiveSocketRefusesAndLeavesItAlone() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let config = daemon.directory + "/second.yaml"
            try String(contentsOfFile: daemon.configPath, encoding: .utf8).replacingOccurrences(
                of: "state_dir: \(daemon.directory)/state", with: "state_dir: \(daemon.directory)/other-state"
            ).write(toFile: config, atomically: true, encoding: .utf8)
            let second = try runToExit(config: config, in: daemon.directory)
            #expect(second.status == 69, "\(second.log)")
            #expect(second.log.contains("served by another process"), "\(second.log)")
            // The first one's socket is still there and still answers.
            #expect(try daemon.call("status")["version"] != nil)
            // A socket left by a process that ended is taken over.
            daemon.kill9()
            let third = try DaemonProcess(name: "thirdOnAStaleSocket")
            try third.writeConfig(
                try String(contentsOfFile: third.configPath, encoding: .utf8).replacingOccurrences(
                    of: third.socketPath, with: daemon.socketPath))
            let started = try ChildProcess(
                productsDirectory + "/leadd", ["--config", third.configPath], environment: [:], output: third.logPath,
                errors: third.logPath)
            defer {
                started.signal(SIGKILL)
                _ = started.wait()
            }
            #expect(
                daemon.eventually(timeout: 20) { (try? daemon.call("status")["version"]) != nil },
                "\(third.log)")
        }
    }
}
