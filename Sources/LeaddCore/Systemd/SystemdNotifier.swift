// Tells the service manager what leadd is doing (sd_notify(3)): READY, STATUS, RELOADING,
// STOPPING and WATCHDOG. Without NOTIFY_SOCKET every call is a no-op, so the daemon runs the
// same by hand and under systemd.
internal import CSystemd
import Foundation

public struct SystemdNotifier: Sendable {
    public init() {}

    /// True when a service manager listens (NOTIFY_SOCKET is set).
    public var isEnabled: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    @discardableResult
    public func send(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    public func status(_ text: String) { send("STATUS=\(text)") }

    /// Marks the start of a reload; `reloaded` must follow.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
    }

    public func reloaded(status: String) { send("READY=1\nSTATUS=\(status)") }

    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }

    public func watchdog() { send("WATCHDOG=1") }

    /// The interval systemd expects WATCHDOG=1 at (WATCHDOG_USEC), or nil when it expects none.
    public func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
