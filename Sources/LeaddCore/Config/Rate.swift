/// A rate limit such as `100/s` or `1000/min`.
public struct Rate: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    public var per: Duration

    public init(count: Int, per: Duration) {
        self.count = count
        self.per = per
    }

    public var perSecond: Double {
        let seconds = Double(per.components.seconds) + Double(per.components.attoseconds) / 1e18
        return Double(count) / seconds
    }

    /// As users write it: `30/min`, `100/s`, `5/h`, `2/day`, else `5/10s`; `parse` reads it back.
    public var description: String {
        switch per {
        case .seconds(1): "\(count)/s"
        case .seconds(60): "\(count)/min"
        case .seconds(3600): "\(count)/h"
        case .seconds(86400): "\(count)/day"
        default: "\(count)/\(DurationText.format(per))"
        }
    }

    /// The most messages a rate may allow in its period, and its longest period: bounds that keep
    /// every bucket's arithmetic in range, far beyond any provider's limit.
    public static let largestCount = 1_000_000_000
    public static let longestPeriod: Duration = .seconds(366 * 86_400)

    /// Parses `N/s`, `N/sec`, `N/second`, `N/min`, `N/minute`, `N/h`, `N/hour`, `N/day` or
    /// `N/<duration>`, with N from 1 to `largestCount` and a period from 1ms to `longestPeriod`.
    public static func parse(_ text: String) -> Rate? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[0].trimmingWhitespace()), (1...largestCount).contains(count)
        else { return nil }
        let unit = parts[1].trimmingWhitespace()
        let per: Duration
        switch unit {
        case "s", "sec", "second": per = .seconds(1)
        case "min", "minute", "m": per = .seconds(60)
        case "h", "hour": per = .seconds(3600)
        case "d", "day": per = .seconds(86400)
        default:
            guard let d = DurationText.parse(unit), d >= .milliseconds(1), d <= longestPeriod else { return nil }
            per = d
        }
        return Rate(count: count, per: per)
    }
}

/// Durations written like `250ms`, `30s`, `5m` (or `5min`), `2h`, `1d`, or combined: `1m30s`.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let text = text.trimmingWhitespace()
        guard !text.isEmpty else { return nil }
        var total = Duration.zero
        var digits = ""
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c.isASCII, c.isNumber {
                digits.append(c)
                index = text.index(after: index)
                continue
            }
            // Twelve digits is over 30,000 years in seconds: more is a mistake, and could overflow.
            guard digits.count <= 12, let value = Int64(digits) else { return nil }
            digits = ""
            let rest = text[index...]
            let unit: Duration
            let length: Int
            if rest.hasPrefix("ms") {
                unit = .milliseconds(1)
                length = 2
            } else if rest.hasPrefix("min") {
                // What `format` writes for whole minutes.
                unit = .seconds(60)
                length = 3
            } else if rest.hasPrefix("s") {
                unit = .seconds(1)
                length = 1
            } else if rest.hasPrefix("m") {
                unit = .seconds(60)
                length = 1
            } else if rest.hasPrefix("h") {
                unit = .seconds(3600)
                length = 1
            } else if rest.hasPrefix("d") {
                unit = .seconds(86400)
                length = 1
            } else {
                return nil
            }
            total += unit * value
            index = text.index(index, offsetBy: length)
        }
        guard digits.isEmpty else { return nil }
        return total
    }

    public static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 86_400_000 == 0, ms > 0 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)min" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension Duration {
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return String(s)
    }
}
