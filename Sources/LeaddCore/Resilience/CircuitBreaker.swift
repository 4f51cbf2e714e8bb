// A circuit breaker for one channel, as a value: it is told the time and the results, and says
// whether sending is allowed. No I/O, no clock of its own, so every transition is testable.
//
// closed: everything goes. It opens when `consecutiveFailures` results in a row said the channel
//   is unavailable (an outage: refused connections, timeouts), or when, within the rolling
//   `window`, at least `minimumCalls` results arrived and the share of channel-unavailable ones
//   reaches `failureRate` (a destination that fails often without being down). A provider that
//   asks to be left alone for a while (429 or 503 with Retry-After, a throughput error) pauses it:
//   it opens until then, whatever the counts say, since the provider meant the account or the
//   number, not one message.
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
    /// Channel-unavailable results in a row that open the breaker; 0: only the rate counts.
    public var consecutiveFailures = 5
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
    /// Why it last opened, for breaker.list and the log; nil while closed.
    public private(set) var reason: String?
    /// Counts the transitions: results of calls handed over in an earlier state (sent before it
    /// opened, say) say nothing about this one, and are told apart by the epoch they were sent in.
    public private(set) var epoch = 0
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
    /// Channel-unavailable results since the last call that got through.
    private var failuresInARow = 0

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

    /// Notes that `count` messages were handed over (probes, when half-open); returns the epoch
    /// their results are to be recorded with.
    @discardableResult
    public mutating func sent(_ count: Int) -> Int {
        if state == .halfOpen { probesOut += count }
        return epoch
    }

    /// Takes back probes counted by `sent` that never reached the channel (held back by a
    /// closed window, or suppressed), so the breaker does not wait for answers that will not come.
    public mutating func unsent(_ count: Int, epoch sentIn: Int? = nil) {
        guard sentIn == nil || sentIn == epoch else { return }
        if state == .halfOpen { probesOut = max(probesOut - count, 0) }
    }

    /// Records a batch's results: how many came back and how many said the channel is unavailable,
    /// and, when the provider asked to be left alone until a time (Retry-After), that time and what
    /// it said. Returns the new state when it changed.
    @discardableResult
    public mutating func record(
        calls: Int, failures: Int, now: Int64, waitUntil: Int64? = nil, cause: String? = nil, epoch sentIn: Int? = nil
    ) -> State? {
        guard calls > 0 else { return nil }
        if let waitUntil, waitUntil > now {
            return pause(until: waitUntil, now: now, cause: cause)
        }
        // Sent in an earlier state: neither a probe's answer nor part of this window's counts.
        if let sentIn, sentIn != epoch { return nil }
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
            // The order within a batch is not known: a batch with any success ends the run.
            failuresInARow = failures == calls ? failuresInARow + failures : 0
            let limit = config.consecutiveFailures
            if limit > 0, failuresInARow >= limit {
                return open(now: now, because: "\(failuresInARow) calls in a row found the channel unavailable")
            }
            let total = self.calls
            if total >= config.minimumCalls, Double(self.failures) / Double(total) >= config.failureRate {
                return open(now: now, because: "\(self.failures) of \(total) calls found the channel unavailable")
            }
            return nil
        case .halfOpen:
            probesDone += calls
            if failures > 0 { probeFailed = true }
            if probeFailed {
                return open(now: now, because: "a probe found the channel still unavailable")
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

    /// Opens until `until` because the provider asked to wait; an open breaker is kept open at
    /// least that long, never shortened. Returns the new state when it changed.
    private mutating func pause(until: Int64, now: Int64, cause: String?) -> State? {
        if case .open(let current) = state, current >= until { return nil }
        let seconds = (until - now + 999) / 1000
        let said = cause.map { ": \($0)" } ?? ""
        let wasOpen = if case .open = state { true } else { false }
        let changed = transition(to: .open(until: until), now: wasOpen ? since : now)
        reason = "the provider asked to wait \(seconds)s\(said)"
        return changed
    }

    private mutating func open(now: Int64, because why: String) -> State {
        let changed = transition(to: .open(until: now + config.openFor.milliseconds), now: now)
        reason = why
        return changed
    }

    /// Closes the breaker by hand (breaker.reset) and forgets the window; returns the new state
    /// when it was not closed already, so resetting twice changes nothing the second time.
    @discardableResult
    public mutating func reset(now: Int64) -> State? {
        guard state != .closed else {
            buckets = []
            failuresInARow = 0
            return nil
        }
        return transition(to: .closed, now: now)
    }

    @discardableResult
    private mutating func transition(to new: State, now: Int64) -> State {
        if new == .closed {
            troubleSince = nil
            reason = nil
        } else if state == .closed {
            troubleSince = now
        }
        state = new
        since = now
        epoch += 1
        buckets = []
        probesOut = 0
        probesDone = 0
        probeFailed = false
        failuresInARow = 0
        return new
    }

    private mutating func prune(now: Int64) {
        let oldest = (now - config.window.milliseconds) / 1000
        buckets.removeAll { $0.second <= oldest }
    }
}
