// leadd's metrics, kept with swift-metrics on a Prometheus registry of their own (no global
// bootstrap, so every daemon and test has its own). Rendered as Prometheus text by the
// `metrics` method and the optional loopback HTTP endpoint.
import CoreMetrics
import Foundation
import LeaddSync
import Prometheus

public final class LeaddMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let counters = Locked<[String: CoreMetrics.Counter]>([:])
    private let gauges = Locked<[String: CoreMetrics.Gauge]>([:])
    private let timers = Locked<[String: CoreMetrics.Timer]>([:])

    static let sendDuration = "leadd_send_duration_seconds"
    static let lateness = "leadd_send_lateness_seconds"

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let buckets: [Duration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        factory.durationHistogramBuckets = [Self.sendDuration: buckets, Self.lateness: buckets]
        self.factory = factory
    }

    private static func key(_ name: String, _ dimensions: [(String, String)]) -> String {
        name + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
    }

    /// Each metric is made once and reused: making one looks it up in the registry under a lock.
    private func cached<M>(_ cache: Locked<[String: M]>, _ key: String, _ make: () -> M) -> M {
        cache.withLock { cache in
            if let m = cache[key] { return m }
            let m = make()
            cache[key] = m
            return m
        }
    }

    private func counter(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        cached(counters, Self.key(name, dimensions)) {
            CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
        }
    }

    private func gauge(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        cached(gauges, Self.key(name, dimensions)) {
            CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
        }
    }

    private func timer(_ name: String, _ channel: String) -> CoreMetrics.Timer {
        cached(timers, Self.key(name, [("channel", channel)])) {
            CoreMetrics.Timer(label: name, dimensions: [("channel", channel)], factory: factory)
        }
    }

    /// Outcomes of one batch: counts per outcome, the plugin call's duration, each message's lateness.
    func recordBatch(channel: String, outcomes: [DeliveryOutcome], sendDuration: Duration, lateness: [Int64]) {
        var byWord: [String: Int] = [:]
        for o in outcomes { byWord[o.word, default: 0] += 1 }
        for (word, n) in byWord {
            counter("leadd_messages_total", [("channel", channel), ("outcome", word)]).increment(by: n)
        }
        timer(Self.sendDuration, channel).recordNanoseconds(
            sendDuration.components.seconds * 1_000_000_000 + sendDuration.components.attoseconds / 1_000_000_000)
        let late = timer(Self.lateness, channel)
        for ms in lateness { late.recordMilliseconds(max(ms, 0)) }
    }

    func recordEnqueued(channel: String, accepted: Int, duplicates: Int) {
        if accepted > 0 { counter("leadd_enqueued_total", [("channel", channel)]).increment(by: accepted) }
        if duplicates > 0 { counter("leadd_duplicates_total", [("channel", channel)]).increment(by: duplicates) }
    }

    func recordBreaker(channel: String, state: CircuitBreaker.State) {
        counter("leadd_breaker_transitions_total", [("channel", channel), ("to", state.description)]).increment()
    }

    /// A provider callback: which provider and what became of it (accepted, refused, bad).
    func recordWebhook(provider: String, result: String) {
        counter("leadd_webhooks_total", [("provider", provider), ("result", result)]).increment()
    }

    func recordReceipt(channel: String, status: String) {
        counter("leadd_receipts_total", [("channel", channel), ("status", status)]).increment()
    }

    func recordOptOut(channel: String) {
        counter("leadd_optouts_total", [("channel", channel)]).increment()
    }

    func recordReload(ok: Bool) {
        counter("leadd_config_reloads_total", [("result", ok ? "ok" : "refused")]).increment()
    }

    /// Prometheus text, with the queue gauges and channel states read fresh.
    public func render(stats: QueueStats, channels: [ChannelRuntime], droppedEvents: Int = 0) -> String {
        gauge("leadd_events_dropped_total", []).record(droppedEvents)
        for channel in Set(stats.byChannel.keys).union(channels.map(\.name)) {
            for state in MessageState.allCases {
                gauge("leadd_queue_messages", [("channel", channel), ("state", state.description)]).record(
                    stats.byChannel[channel]?[state] ?? 0)
            }
        }
        for channel in channels {
            gauge("leadd_channel_up", [("channel", channel.name)]).record(channel.dispatcher == nil ? 0 : 1)
            if let breaker = channel.dispatcher?.breakerSnapshot() {
                // 0 closed, 1 half-open, 2 open.
                let value: Int
                switch breaker.state {
                case .closed: value = 0
                case .halfOpen: value = 1
                case .open: value = 2
                }
                gauge("leadd_breaker_state", [("channel", channel.name)]).record(value)
            }
        }
        return registry.emitToString()
    }
}
