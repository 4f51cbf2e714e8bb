// A channel plugin for tests and benchmarks: it "delivers" a message by appending it as one JSON
// line to a file, and can be told to fail in the ways real providers do.
//
// Settings (the channel's `settings:` in leadd.yaml):
//   file: path of the JSON Lines file to append to (omit to record nothing)
//   fail_every: N         every Nth message gets a transient failure (retry)
//   fail_matching: "text" a recipient containing this text fails permanently
//   unavailable: true     every message reports the channel as unavailable
//   unavailable_while: "path"  ... as long as that file exists (an outage a test can end)
//   fail_while: "path"    every message gets a transient failure while that file exists
//   delay_ms: N           complete each batch N ms later, from another thread
//   hang_matching: "text" a recipient containing this text is never answered (a hung provider call)
//   crash_matching: "text" a recipient containing this text aborts the process (a plugin that crashes)
import Foundation
import LeaddSync
import PluginAPI
import Synchronization

@_cdecl("leadd_plugin_entry")
public func leaddPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
    PluginExport.table(for: TestChannel.self, name: "test", version: "1.0.0", kind: "test", hostMajor: hostMajor)
}

final class TestChannel: ChannelPlugin {
    struct Settings {
        var file: String?
        var failEvery = 0
        var failMatching: String?
        var unavailable = false
        var unavailableWhile: String?
        var failWhile: String?
        var delayMilliseconds = 0
        var hangMatching: String?
        var crashMatching: String?
    }

    private let settings: Settings
    private let host: PluginHost
    private let output: Locked<UnsafeMutablePointer<FILE>?>
    private let counter = Atomic<Int>(0)

    init(settingsJSON: String, host: PluginHost) throws {
        let object = (try? JSONSerialization.jsonObject(with: Data(settingsJSON.utf8))) as? [String: Any]
        guard let object else { throw PluginSetupError("settings are not a JSON object") }
        var settings = Settings()
        for (key, value) in object {
            switch key {
            case "file": settings.file = value as? String
            case "fail_every": settings.failEvery = value as? Int ?? 0
            case "fail_matching": settings.failMatching = value as? String
            case "unavailable": settings.unavailable = value as? Bool ?? false
            case "unavailable_while": settings.unavailableWhile = value as? String
            case "fail_while": settings.failWhile = value as? String
            case "delay_ms": settings.delayMilliseconds = value as? Int ?? 0
            case "hang_matching": settings.hangMatching = value as? String
            case "crash_matching": settings.crashMatching = value as? String
            default: throw PluginSetupError("unknown setting '\(key)'")
            }
        }
        var handle: UnsafeMutablePointer<FILE>?
        if let file = settings.file {
            handle = fopen(file, "a")
            guard handle != nil else {
                throw PluginSetupError("cannot open \(file): \(String(cString: strerror(errno)))")
            }
        }
        self.settings = settings
        self.host = host
        self.output = Locked(handle)
    }

    func send(_ messages: [PluginMessage]) {
        var results: [(UInt64, PluginResult)] = []
        results.reserveCapacity(messages.count)
        var lines = ""
        let recording = settings.file != nil
        let down = settings.unavailable || settings.unavailableWhile.map { access($0, F_OK) == 0 } ?? false
        let failing = settings.failWhile.map { access($0, F_OK) == 0 } ?? false
        for message in messages {
            if let pattern = settings.hangMatching, message.to.contains(pattern) { continue }
            if let pattern = settings.crashMatching, message.to.contains(pattern) { abort() }
            let n = counter.add(1, ordering: .relaxed).newValue
            let result: PluginResult
            if down {
                result = .channelUnavailable("test channel set unavailable")
            } else if let pattern = settings.failMatching, message.to.contains(pattern) {
                result = .failed("recipient \(message.to) matches fail_matching")
            } else if failing || (settings.failEvery > 0 && n % settings.failEvery == 0) {
                result = .retry("injected transient failure", afterMilliseconds: nil)
            } else {
                result = .delivered(providerID: "test-\(n)")
                if recording { lines += Self.line(for: message, at: host.nowMilliseconds()) }
            }
            results.append((message.token, result))
        }
        let host = self.host
        let completed = results
        let output = self.output
        let delay = settings.delayMilliseconds
        let recorded = lines
        // The file is written on the plugin's own queue, as a plugin does its I/O: the caller's
        // thread is leadd's, and a write held up by a busy disk must not hold up its dispatch.
        // Recorded lines reach the kernel before the messages are reported delivered, so a
        // kill -9 of the daemon never loses a delivery that leadd was told about.
        Self.writer.async {
            output.withLock { handle in
                guard let handle, !recorded.isEmpty else { return }
                fputs(recorded, handle)
                fflush(handle)
            }
            let finish: @Sendable () -> Void = {
                for (token, result) in completed { host.complete(token, result) }
            }
            if delay > 0 {
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay), execute: finish)
            } else {
                finish()
            }
        }
    }

    /// One queue for every instance keeps each file's lines in the order they were sent.
    static let writer = DispatchQueue(label: "leadd-test-channel-writer")

    func healthProblem() -> String? {
        let down = settings.unavailable || settings.unavailableWhile.map { access($0, F_OK) == 0 } ?? false
        return down ? "set unavailable" : nil
    }

    func shutdown() {
        output.withLock { handle in
            if let h = handle { fclose(h) }
            handle = nil
        }
    }

    /// Finer than the host's milliseconds, for measuring lateness.
    static func wallMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// One JSON object per line, written by hand: Foundation's serializer (sorted keys compare
    /// through ICU) costs more than the rest of a send, and the lateness benchmark records every one.
    static func line(for message: PluginMessage, at now: Int64) -> String {
        var line = "{\"attempt\":\(message.attempt),\"content\":"
        line += message.contentJSON.isEmpty ? "{}" : message.contentJSON
        line += ",\"due_at_ms\":\(message.dueAtMilliseconds),\"id\":"
        appendQuoted(message.id, to: &line)
        line += ",\"key\":"
        appendQuoted(message.idempotencyKey, to: &line)
        line += ",\"sent_at_ms\":\(now),\"sent_at_us\":\(wallMicroseconds()),\"tenant\":"
        appendQuoted(message.tenant, to: &line)
        line += ",\"to\":"
        appendQuoted(message.to, to: &line)
        line += "}\n"
        return line
    }

    static func appendQuoted(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case _ where scalar.value < 0x20: line += String(format: "\\u%04x", scalar.value)
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
