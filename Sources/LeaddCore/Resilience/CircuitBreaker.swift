// A circuit breaker for one channel, as a value: it is told the time and the results, and says
// whether sending is allowed. No I/O, no clock of its own, so every transition is testable.
//
// closed: everything goes. When, within the rolling `window`, at least `minimumCalls` results
//   arrived and the share of channel-unavailable ones reaches `failureRate`, it opens.
// open: nothing goes until `openFor` has passed; then half-open.
// half-open: up to `probes` messages go; if none comes back unavailable it closes, else it opens
//   again for another `openFor`.
// Only channel-unavailable results count as failures: a message refused for itself says nothing
// about the destination's health.

public struct BreakerConfig: Sendable, Equatable {
    public var failureRate = 0.5
    public var minimumCalls = 20
    public var window: Duration = .seconds(30)
    public var openFor: Duration = .seconds(30)
    public var probes = 5
    /// After the breaker has been open this long, campaign messages whose step has a fallback
    /// channel go there instead of waiting; nil: they wait.
    public var fallbackAfter: Duration?

    public init() {}
}

public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable, CustomStringConvertible {
        case closed
        case open(until: Int64)
        case halfOpen

        public var description: String {
            switch self {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half-open"
            }
        }
    }

    /// What the dispatcher may do now.
    public enum Permission: Sendable, Equatable {
        case send(limit: Int?)
        case wait(until: Int64)
    }

    public private(set) var state: State = .closed
    public private(set) var since: Int64
    /// When it last opened from closed: probes failing in between do not reset it. nil while closed.
    public private(set) var troubleSince: Int64?
    public var config: BreakerConfig
    private struct Bucket: Sendable, Equatable {
        var second: Int64
        var calls: Int
        var failures: Int
    }

    /// Per-second counts inside the window.
    private var buckets: [Bucket] = []
    private var probesOut = 0
    private var probeFailed = false
    private var probesDone = 0

    public init(config: BreakerConfig, now: Int64) {
        self.config = config
        self.since = now
    }

    public var calls: Int { buckets.reduce(0) { $0 + $1.calls } }
    public var failures: Int { buckets.reduce(0) { $0 + $1.failures } }

    /// Whether to send now, and how many at most. Moves open to half-open when its time is up.
    public mutating func permission(now: Int64) -> Permission {
        switch state {
        case .closed:
            return .send(limit: nil)
        case .open(let until):
            guard now >= until else { return .wait(until: until) }
            transition(to: .halfOpen, now: now)
            return .send(limit: config.probes)
        case .halfOpen:
            let left = config.probes - probesOut
            return left > 0 ? .send(limit: left) : .wait(until: now + 100)
        }
    }

    /// Notes that `count` messages were handed over (probes, when half-open).
    public mutating func sent(_ count: Int) {
        if state == .halfOpen { probesOut += count }
    }

    /// Takes back probes counted by `sent` that never reached the channel (held back by a
    /// closed window, say), so the breaker does not wait for answers that will not come.
    public mutating func unsent(_ count: Int) {
        if state == .halfOpen { probesOut = max(probesOut - count, 0) }
    }

    /// Records a batch's results: how many came back and how many said the channel is unavailable.
    /// Returns the new state when it changed.
    @discardableResult
    public mutating func record(calls: Int, failures: Int, now: Int64) -> State? {
        guard calls > 0 else { return nil }
        switch state {
        case .closed:
            let second = now / 1000
            prune(now: now)
            if let last = buckets.last, last.second == second {
                buckets[buckets.count - 1].calls += calls
                buckets[buckets.count - 1].failures += failures
            } else {
                buckets.append(Bucket(second: second, calls: calls, failures: failures))
            }
            let total = self.calls
            if total >= config.minimumCalls, Double(self.failures) / Double(total) >= config.failureRate {
                return transition(to: .open(until: now + config.openFor.milliseconds), now: now)
            }
            return nil
        case .halfOpen:
            probesDone += calls
            if failures > 0 { probeFailed = true }
            if probeFailed {
                return transition(to: .open(until: now + config.openFor.milliseconds), now: now)
            }
            if probesDone >= min(config.probes, max(probesOut, 1)) {
                return transition(to: .closed, now: now)
            }
            return nil
        case .open:
            // Results of sends that were already out when it opened change nothing.
            return nil
        }
    }

    /// Closes the breaker by hand (breaker.reset) and forgets the window; returns the new state
    /// when it was not closed already, so resetting twice changes nothing the second time.
    @discardableResult
    public mutating func reset(now: Int64) -> State? {
        guard state != .closed else {
            buckets = []
            return nil
        }
        return transition(to: .closed, now: now)
    }

    @discardableResult
    private mutating func transition(to new: State, now: Int64) -> State {
        if new == .closed {
            troubleSince = nil
        } else if state == .closed {
            troubleSince = now
        }
        state = new
        since = now
        buckets = []
        probesOut = 0
        probesDone = 0
        probeFailed = false
        return new
    }

    private mutating func prune(now: Int64) {
        let oldest = (now - config.window.milliseconds) / 1000
        buckets.removeAll { $0.second <= oldest }
    }
}
