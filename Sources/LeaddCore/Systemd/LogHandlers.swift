// Where log lines go: the journal with structured fields when systemd connected stderr to it,
// else stderr with sd-daemon(3) `<N>` priority prefixes (which journald and syslog understand).
internal import CSystemd
import Foundation
import Logging

public enum LogTarget: String, Sendable, CaseIterable {
    case journal, stderr

    /// The journal when JOURNAL_STREAM names our stderr (see systemd.exec(5)), else stderr.
    public static func detect() -> LogTarget {
        guard let stream = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] else { return .stderr }
        var info = stat()
        guard fstat(2, &info) == 0 else { return .stderr }
        return stream == "\(info.st_dev):\(info.st_ino)" ? .journal : .stderr
    }

    public func makeHandler(label: String, level: Logger.Level) -> any LogHandler {
        SystemLogHandler(target: self, level: level)
    }
}

extension Logger.Level {
    /// The syslog priority: 7 debug … 2 critical.
    var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}

/// Journal fields for well-known metadata keys; others become LEADD_<KEY>.
enum JournalField {
    /// MESSAGE_ID values (journalctl MESSAGE_ID=...) for the events operators look for.
    public static let messageFailed = "8c1e5bd0a3f44b6f9d2e7c41f06a9b13"
    public static let messageDead = "5f2b9e7a14c84d0ab36e1f9c2d7e8a40"

    static let known: [String: String] = [
        "tenant": "TENANT", "tenant.id": "TENANT",
        "campaign": "CAMPAIGN", "campaign.id": "CAMPAIGN",
        "channel": "CHANNEL",
        "message.id": "LEADD_MESSAGE",
        // A stable 128-bit id per kind of event, as journalctl's MESSAGE_ID= filter expects.
        "event.id": "MESSAGE_ID",
    ]

    static func name(for key: String) -> String {
        if let known = known[key] { return known }
        let cleaned = key.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }
        return String(("LEADD_" + String(cleaned)).prefix(64))
    }
}

/// Writes each log event to the journal (structured fields) or to stderr (`<6>message key=value`
/// lines, one write each), as `target` says.
struct SystemLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let target: LogTarget

    init(target: LogTarget, level: Logger.Level) {
        self.target = target
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        switch target {
        case .journal: Self.send(fields(for: event))
        case .stderr: Self.write(line(for: event))
        }
    }

    /// The journal entry's fields, `NAME=value` each.
    func fields(for event: LogEvent) -> [String] {
        var fields = [
            "MESSAGE=\(event.message)", "PRIORITY=\(event.level.syslogPriority)", "SYSLOG_IDENTIFIER=leadd",
            "CODE_FILE=\(event.file)", "CODE_LINE=\(event.line)", "CODE_FUNC=\(event.function)",
        ]
        if let error = event.error { fields.append("LEADD_ERROR=\(error)") }
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in all.keys.sorted() { fields.append("\(JournalField.name(for: key))=\(all[key]!)") }
        return fields
    }

    /// The stderr line, with the sd-daemon(3) priority prefix.
    func line(for event: LogEvent) -> String {
        var text = "<\(event.level.syslogPriority)>\(event.message)"
        if let error = event.error { text += " error=\(error)" }
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in all.keys.sorted() { text += " \(key)=\(all[key]!)" }
        return text + "\n"
    }

    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    static func send(_ fields: [String]) {
        // sd_journal_sendv, because the variadic sd_journal_send cannot be called from Swift.
        let buffers = fields.map { field -> UnsafeMutableBufferPointer<UInt8> in
            let bytes = Array(field.utf8)
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
            _ = buffer.initialize(from: bytes)
            return buffer
        }
        defer { for b in buffers { b.deallocate() } }
        var vectors = buffers.indices.map { i in
            iovec(iov_base: UnsafeMutableRawPointer(buffers[i].baseAddress), iov_len: buffers[i].count)
        }
        _ = sd_journal_sendv(&vectors, Int32(vectors.count))
    }
}
