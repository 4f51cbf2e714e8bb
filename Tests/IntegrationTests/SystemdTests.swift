import Foundation
import LeaddClient
import LeaddProtocol
import Testing

/// A stand-in for systemd's notification socket: a Unix datagram socket that collects what leadd sends.
final class FakeNotifySocket {
    let path: String
    private let fd: Int32

    init(directory: String) throws {
        path = directory + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else { throw DaemonError.notReady(log: "cannot bind \(path)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Datagrams received until `condition` holds for them or the timeout passes.
    func collect(into messages: inout [String], timeout: TimeInterval, until condition: ([String]) -> Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline && !condition(messages) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { messages.append(String(decoding: buffer[..<n], as: UTF8.self)) }
        }
    }
}

extension Integration {
    @Suite struct SystemdTests {
        @Test func notificationsArriveInOrder() throws {
            let daemon = try DaemonProcess(extraDaemon: "  status_interval: 200ms")
            let notify = try FakeNotifySocket(directory: daemon.directory)
            daemon.environment["NOTIFY_SOCKET"] = notify.path
            daemon.environment["WATCHDOG_USEC"] = "1000000"
            try daemon.start()
            var messages: [String] = []
            notify.collect(into: &messages, timeout: 10) { m in
                m.contains { $0.contains("WATCHDOG=1") } && m.filter { $0.hasPrefix("STATUS=") }.count >= 2
            }
            daemon.signal(SIGHUP)
            notify.collect(into: &messages, timeout: 10) { m in m.contains { $0.hasPrefix("RELOADING=1") } }
            notify.collect(into: &messages, timeout: 10) { m in m.filter { $0.hasPrefix("READY=1") }.count >= 2 }
            daemon.signal(SIGTERM)
            notify.collect(into: &messages, timeout: 10) { m in m.contains { $0.hasPrefix("STOPPING=1") } }
            #expect(daemon.waitForExit() == 0)

            func first(_ prefix: String, after: Int = -1) -> Int? {
                messages.indices.first { $0 > after && messages[$0].hasPrefix(prefix) }
            }
            let ready = try #require(first("READY=1"), "\(messages)")
            #expect(messages[ready].contains("STATUS=queued 0 (due 0), in flight 0, sent/min 0"))
            let status = try #require(first("STATUS=", after: ready))
            let watchdog = try #require(first("WATCHDOG=1", after: ready))
            let reloading = try #require(first("RELOADING=1", after: ready))
            #expect(messages[reloading].contains("MONOTONIC_USEC="))
            let readyAgain = try #require(first("READY=1", after: reloading))
            let stopping = try #require(first("STOPPING=1", after: readyAgain))
            #expect(status > ready && watchdog > ready && stopping > readyAgain)
        }

        @Test func socketActivationServesOnThePassedSocket() throws {
            let daemon = try DaemonProcess()
            let passed = daemon.directory + "/passed.sock"
            let process = try ChildProcess(
                "/usr/bin/systemd-socket-activate",
                ["-l", passed, productsDirectory + "/leadd", "--config", daemon.configPath],
                output: daemon.logPath, errors: daemon.logPath)
            defer {
                process.signal(SIGTERM)
                process.wait()
            }
            #expect(daemon.eventually(timeout: 10) { FileManager.default.fileExists(atPath: passed) })
            let status = try run(productsDirectory + "/leaddctl", ["status", "--socket", passed])
            #expect(status.status == 0, "\(status.err)")
            #expect(status.out.contains("channel sms: running"))
            // The configured path was not bound: the passed socket replaced it.
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        }

        /// As the shipped units have it: the socket systemd listens on is the configured one. It
        /// answers (systemd holds it), and it is leadd's to serve, not another leadd's.
        @Test func socketActivationOnTheConfiguredPathIsServed() throws {
            let daemon = try DaemonProcess()
            let process = try ChildProcess(
                "/usr/bin/systemd-socket-activate",
                ["-l", daemon.socketPath, productsDirectory + "/leadd", "--config", daemon.configPath],
                output: daemon.logPath, errors: daemon.logPath)
            defer {
                process.signal(SIGTERM)
                process.wait()
            }
            #expect(daemon.eventually(timeout: 10) { FileManager.default.fileExists(atPath: daemon.socketPath) })
            let status = try run(productsDirectory + "/leaddctl", ["status", "--socket", daemon.socketPath])
            #expect(status.status == 0, "\(status.err)\n\(daemon.log)")
            #expect(status.out.contains("channel sms: running"))
        }

        @Test func sigtermDuringDispatchLosesNothing() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        batch_size: 20
                        concurrency: 2
                        settings:
                          file: "@SENT@"
                          delay_ms: 200
                    """)
            try daemon.start()
            let total = 300
            #expect(try daemon.sendBatch(total, keyPrefix: "t") == total)
            #expect(
                daemon.eventually(timeout: 10) {
                    (try? daemon.call("queue.stats")["total"]?["inflight"]) != .integer(0)
                })

            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit() == 0)
            // The sends in flight were allowed to finish and were recorded; nothing is left in flight.
            try daemon.start()
            #expect(!daemon.log.contains("were in flight"))
            #expect(try daemon.allSent(total))
            let keys = daemon.sentLines.compactMap { try? JSONValue.parse($0)["key"]?.stringValue }
            #expect(keys.count == total)
            #expect(Set(keys).count == total)
        }

        @Test func theUnitsVerifyCleanOnceInstalled() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().path
            let prefix = NSTemporaryDirectory() + "leadd-install-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: prefix) }
            let make = try run(
                "/usr/bin/make",
                [
                    "-C", root, "install-files", "BUILD=\(productsDirectory)", "PREFIX=\(prefix)/usr",
                    "SYSCONFDIR=\(prefix)/etc",
                ])
            #expect(make.status == 0, "\(make.err)")
            for file in [
                "usr/bin/leadd", "usr/bin/leaddctl", "usr/lib/leadd/plugins/libTestChannel.so",
                "usr/lib/leadd/plugins/libSMS.so", "usr/lib/leadd/plugins/libWhatsApp.so",
                "usr/lib/leadd/plugins/libEmail.so", "etc/leadd/leadd.yaml",
                "usr/share/man/man8/leadd.8", "usr/lib/sysusers.d/leadd.conf",
            ] {
                #expect(FileManager.default.fileExists(atPath: "\(prefix)/\(file)"), "\(file)")
            }
            let units = "\(prefix)/usr/lib/systemd/system"
            let service = try String(contentsOfFile: units + "/leadd.service", encoding: .utf8)
            #expect(service.contains("ExecStart=\(prefix)/usr/bin/leadd --config \(prefix)/etc/leadd/leadd.yaml"))
            let verify = try run(
                "/usr/bin/systemd-analyze", ["verify", units + "/leadd.service", units + "/leadd.socket"],
                environment: ["MANPATH": "\(prefix)/usr/share/man"])
            #expect(verify.status == 0, "\(verify.out)\(verify.err)")
            #expect(verify.err.isEmpty, "\(verify.err)")
        }
    }
}

extension Integration {
    @Suite struct ObservabilityTests {
        @Test func tailStreamsEventsAndMetricsCountThem() throws {
            let port = 20_000 + Int(getpid() % 20_000)
            let daemon = try DaemonProcess(extraDaemon: "  metrics_listen: 127.0.0.1:\(port)")
            try daemon.start()
            let subscriber = try daemon.client()
            try subscriber.writeLine(
                ControlClient.request("events.subscribe", JSONObject(["types": .array(["sent"])]), id: 1).serialized)
            #expect(try subscriber.readResponse()["result"]?["subscribed"] == .bool(true))
            let id = try #require(try daemon.call("message.send", sendParams())["id"]?.stringValue)
            let event = try subscriber.readResponse()
            #expect(event["method"] == "event")
            #expect(event["params"]?["type"] == "sent")
            #expect(event["params"]?["message_id"] == .string(id))
            #expect(event["params"]?["channel"] == "sms")

            let text = try #require(try daemon.call("metrics").stringValue)
            #expect(text.contains(#"leadd_messages_total{channel="sms",outcome="delivered"} 1"#))
            #expect(text.contains(#"leadd_enqueued_total{channel="sms"} 1"#))
            #expect(text.contains(#"leadd_queue_messages{channel="sms",state="sent"} 1"#))
            #expect(text.contains("leadd_send_lateness_seconds_bucket"))
            #expect(text.contains("leadd_events_dropped_total 0"))
            #expect(try daemon.call("status")["events_dropped"] == .integer(0))

            let http = try httpGet(port: port, path: "/metrics")
            #expect(http.hasPrefix("HTTP/1.1 200 OK"))
            #expect(http.contains("leadd_messages_total"))
            #expect(try httpGet(port: port, path: "/other").hasPrefix("HTTP/1.1 404"))
        }

        @Test func leaddctlTailPrintsEvents() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let output = daemon.directory + "/tail.out"
            let process = try ChildProcess(
                productsDirectory + "/leaddctl", ["tail", "--json", "--socket", daemon.socketPath, "--channel", "sms"],
                output: output, errors: daemon.logPath)
            defer {
                process.signal(SIGTERM)
                process.wait()
            }
            // The tail prints only what happens after it subscribed, and does not say when that is:
            // a message sent before is simply not seen. So send one, and another whenever a second
            // passes with nothing printed, until the tail prints an event.
            var line = ""
            func printed() -> Bool {
                line =
                    ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").first.map(
                        String.init) ?? ""
                return !line.isEmpty
            }
            #expect(
                try daemon.eventually(timeout: 60) {
                    _ = try daemon.call("message.send", sendParams())
                    return daemon.eventually(timeout: 1) { printed() }
                })
            #expect(try JSONValue.parse(line)["type"] == "sent")
        }
    }
}

extension Integration {
    @Suite struct BreakerTests {
        @Test func anOutageOpensTheBreakerLosesNothingAndEverythingGoesOutAfter() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        batch_size: 10
                        settings:
                          file: "@SENT@"
                          unavailable_while: "@SENT@.down"
                        retry:
                          initial: 200ms
                          max_attempts: 2
                        breaker:
                          minimum_calls: 5
                          failure_rate: 50%
                          open_for: 1s
                          probes: 2
                    """)
            let down = daemon.sentPath + ".down"
            _ = FileManager.default.createFile(atPath: down, contents: nil)
            try daemon.start()
            let subscriber = try daemon.client()
            try subscriber.writeLine(
                ControlClient.request("events.subscribe", JSONObject(["types": .array(["breaker"])]), id: 1).serialized)
            _ = try subscriber.readResponse()

            let total = 40
            try daemon.sendBatch(total, keyPrefix: "o")
            let opened = try subscriber.readResponse()
            #expect(opened["params"]?["detail"] == "open")
            let breakers = try #require(try daemon.call("breaker.list").arrayValue)
            #expect(breakers.first?["state"] == "open")
            #expect(
                try #require(try daemon.call("metrics").stringValue).contains(#"leadd_breaker_state{channel="sms"} 2"#))
            let status = try run(productsDirectory + "/leaddctl", ["breakers", "--socket", daemon.socketPath])
            #expect(status.out.contains("open"))

            // Several open/half-open rounds: nothing may die, even with max_attempts 2. A round
            // ends when the half-open breaker's probes find the channel still down and it opens
            // again: two more "open" events are two rounds.
            var reopened = 0
            while reopened < 2 {
                let event = try subscriber.readResponse()
                if event["params"]?["detail"] == "open" { reopened += 1 }
            }
            #expect(try daemon.call("queue.stats")["total"]?["dead"] == .integer(0))

            try FileManager.default.removeItem(atPath: down)
            #expect(try daemon.allSent(total))
            #expect(try daemon.call("breaker.list").arrayValue?.first?["state"] == "closed")
            #expect(try daemon.call("queue.stats")["total"]?["dead"] == .integer(0))
            // The breaker's refusals did not count as attempts.
            let keys = daemon.sentLines.compactMap { try? JSONValue.parse($0) }
            #expect(keys.count == total)
            #expect(keys.allSatisfy { $0["attempt"] == .integer(1) })
            let reset = try daemon.call("breaker.reset", JSONObject(["channel": "sms"]))
            #expect(reset["changed"] == .bool(false))
        }
    }
}

extension Integration {
    @Suite struct DeadLetterTests {
        @Test func exhaustedMessagesLandInTheDLQAndRetryResendsThem() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        settings:
                          file: "@SENT@"
                          fail_while: "@SENT@.failing"
                        retry:
                          initial: 100ms
                          max: 200ms
                          max_attempts: 2
                    """)
            let failing = daemon.sentPath + ".failing"
            _ = FileManager.default.createFile(atPath: failing, contents: nil)
            try daemon.start()
            for n in 0..<3 { _ = try daemon.call("message.send", sendParams(key: "d\(n)")) }
            #expect(try daemon.eventually { try daemon.call("queue.stats")["total"]?["dead"] == .integer(3) })
            let listed = try #require(try daemon.call("dlq.list")["messages"]?.arrayValue)
            #expect(listed.count == 3)
            #expect(listed[0]["last_error"]?.stringValue?.contains("injected transient failure") == true)

            let env = ["LEADD_SOCKET": daemon.socketPath]
            let ctl = productsDirectory + "/leaddctl"
            #expect(try run(ctl, ["dlq", "list"], environment: env).out.contains("injected transient failure"))
            #expect(try run(ctl, ["dlq", "purge"], environment: env).status == 2)

            try FileManager.default.removeItem(atPath: failing)
            let first = listed[0]["id"]?.stringValue ?? ""
            let retried = try run(ctl, ["dlq", "retry", first], environment: env)
            #expect(retried.out.contains("retried 1"), "\(retried.err)")
            #expect(try run(ctl, ["dlq", "retry", first], environment: env).out.contains("retried 0"))
            #expect(try daemon.eventually { try daemon.call("queue.stats")["total"]?["sent"] == .integer(1) })

            #expect(try run(ctl, ["dlq", "retry", "--tenant", "acme"], environment: env).out.contains("retried 2"))
            #expect(try daemon.eventually { try daemon.call("queue.stats")["total"]?["sent"] == .integer(3) })
            #expect(try run(ctl, ["dlq", "purge", "--all"], environment: env).out.contains("purged 0"))
        }
    }
}

/// A plain HTTP/1.1 GET on loopback, read until the server closes.
func httpGet(port: Int, path: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw DaemonError.notReady(log: "cannot connect to port \(port)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        response.append(contentsOf: chunk[..<n])
    }
    return String(decoding: response, as: UTF8.self)
}

extension Integration {
    @Suite struct RateLimitTests {
        @Test func aChannelNeverSendsFasterThanItsRate() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        rate: 20/s
                        burst: 5
                        settings:
                          file: "@SENT@"
                    """)
            try daemon.start()
            let total = 50
            try daemon.sendBatch(total, keyPrefix: "r")
            #expect(try daemon.allSent(total))
            let times = daemon.sentLines.compactMap { try? JSONValue.parse($0)["sent_at_ms"]?.int64Value }.sorted()
            #expect(times.count == total)
            // Any stretch of time holds at most the burst plus what the rate refills in it.
            for i in times.indices {
                for j in i..<times.count {
                    let allowed = 5 + 20 * Double(times[j] - times[i]) / 1000
                    #expect(Double(j - i + 1) <= allowed + 1, "\(j - i + 1) sends in \(times[j] - times[i]) ms")
                }
            }
        }
    }
}

extension Integration {
    @Suite struct SendingWindowProcessTests {
        @Test func nothingGoesOutOutsideTheWindowAndAReloadOpensIt() throws {
            let closed = closedHoursUTC()
            let daemon = try DaemonProcess()
            let base = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
            // Tenant `other` sends at any time.
            func config(hours: String) -> String {
                base + """

                    schedules:
                      office:
                        timezone: UTC
                        hours: "\(hours)"
                      anytime:
                        timezone: UTC
                        hours: "00:00-24:00"
                    tenants:
                      defaults:
                        schedule: office
                      overrides:
                        other:
                          schedule: anytime
                    """
            }
            try daemon.writeConfig(config(hours: closed))
            try daemon.start()
            let id = try #require(try daemon.call("message.send", sendParams())["id"]?.stringValue)
            // Another tenant's message, whose window is open, queued after the first (the
            // scheduler hears of new rows in the order they were stored). The dispatcher takes
            // every due message it may send, up to the batch size (100), in one pick, asking
            // each tenant in turn: once this one has gone, the first was looked at and held back.
            _ = try daemon.call("message.send", sendParams(tenant: "other", key: "other"))
            #expect(try daemon.allSent(1))
            #expect(try daemon.call("message.get", JSONObject(["id": .string(id)]))["state"] == "scheduled")
            #expect(daemon.sentRecords.map { $0["key"] } == ["other"])

            try daemon.writeConfig(config(hours: "00:00-24:00"))
            #expect(try daemon.call("config.reload")["reloaded"] == .bool(true))
            #expect(try daemon.allSent(2))
        }
    }
}
