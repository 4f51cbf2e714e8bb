// Keeps systemd's STATUS= line current ("queued 1200 (due 40), in flight 100, sent/min 5400")
// and pings the watchdog while every dispatch loop is alive.
import Foundation
import LeaddSync
import Logging

public final class StatusReporter: Sendable {
    private let runtime: DaemonRuntime
    private let notifier: SystemdNotifier
    private let logger: Logger
    /// (monotonic ms, sent total) samples of the last minute, for the sent/min figure.
    private let samples = Locked<[(Int64, Int64)]>([])

    public init(runtime: DaemonRuntime, notifier: SystemdNotifier, logger: Logger) {
        self.runtime = runtime
        self.notifier = notifier
        self.logger = logger
    }

    /// The status line as systemd shows it.
    public func line() async -> String {
        let stats = runtime.store.stats().total
        let queued = stats[.scheduled, default: 0]
        let wallNow = runtime.clock.nowMilliseconds()
        let due = runtime.channels.reduce(0) { $0 + ($1.dispatcher?.dueHeld(now: wallNow) ?? 0) }
        let sent = stats[.sent, default: 0]
        let now = ChannelDispatcher.monotonicMilliseconds()
        let perMinute = samples.withLock { samples -> Int64 in
            samples.append((now, sent))
            samples.removeAll { now - $0.0 > 60_000 }
            guard let first = samples.first, now > first.0 else { return 0 }
            return (sent - first.1) * 60_000 / max(now - first.0, 1)
        }
        let down = runtime.channels.filter { $0.dispatcher == nil }.count
        var text =
            "queued \(queued) (due \(due)), in flight \(stats[.inflight, default: 0]), sent/min \(perMinute)"
        let open = runtime.channels.filter {
            if case .open = $0.dispatcher?.breakerSnapshot().state { return true }
            return false
        }.count
        text += ", breakers open \(open)"
        if down > 0 { text += ", channels down \(down)" }
        return text
    }

    /// Updates STATUS= every few seconds until cancelled.
    public func runStatusUpdates() async {
        while !Task.isCancelled {
            notifier.status(await line())
            try? await Task.sleep(for: max(runtime.config.current.daemon.statusInterval, .milliseconds(100)))
        }
    }

    /// Sends WATCHDOG=1 at half of WATCHDOG_USEC while the dispatch loops are alive; a stuck loop
    /// stops the pings and systemd restarts leadd.
    public func runWatchdog() async {
        guard let interval = notifier.watchdogInterval() else { return }
        var warned = false
        while !Task.isCancelled {
            if runtime.dispatchersAlive(within: interval) {
                notifier.watchdog()
                warned = false
            } else if !warned {
                if let stuck = runtime.channels.lazy.compactMap({ $0.dispatcher?.stuckPlugin() }).first {
                    logger.critical("the plugin of channel \(stuck) is stuck; not pinging the watchdog")
                } else {
                    logger.critical("a dispatch loop is stuck; not pinging the watchdog")
                }
                warned = true
            }
            try? await Task.sleep(for: interval / 2)
        }
    }
}
