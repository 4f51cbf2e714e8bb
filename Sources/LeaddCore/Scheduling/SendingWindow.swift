// When a tenant may be contacted: days of the week and hours of the day in one IANA time zone.
// A value with no clock of its own: asked about an instant, it says whether the window is open
// and when it next opens. Calendar arithmetic in the window's zone keeps it right across
// daylight-saving changes: a window opening at a local time that a spring-forward skips opens
// at the first local time after the gap, and the repeated hour of a fall-back is not opened twice.
import Foundation

public struct SendingWindow: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        /// Minutes after local midnight; `end` is exclusive and may be 24*60.
        public var start: Int
        public var end: Int
    }

    public var name: String
    public var timeZone: TimeZone
    /// Calendar weekdays: 1 Sunday … 7 Saturday.
    public var days: Set<Int>
    public var ranges: [Range]

    public init(name: String, timeZone: TimeZone, days: Set<Int>, ranges: [Range]) {
        self.name = name
        self.timeZone = timeZone
        self.days = days
        self.ranges = ranges.sorted { $0.start < $1.start }
    }

    private var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    public func contains(_ milliseconds: Int64) -> Bool {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        guard let weekday = parts.weekday, days.contains(weekday) else { return false }
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        return ranges.contains { $0.start <= minute && minute < $0.end }
    }

    /// `milliseconds` itself when the window is open then, else the next instant it opens.
    public func nextOpening(after milliseconds: Int64) -> Int64 {
        if contains(milliseconds) { return milliseconds }
        let calendar = self.calendar
        let now = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let today = calendar.startOfDay(for: now)
        for offset in 0...8 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: today),
                days.contains(calendar.component(.weekday, from: day))
            else { continue }
            for range in ranges {
                guard
                    let opening = calendar.date(
                        bySettingHour: range.start / 60, minute: range.start % 60, second: 0, of: day,
                        matchingPolicy: .nextTime, repeatedTimePolicy: .first, direction: .forward)
                else { continue }
                let ms = Int64((opening.timeIntervalSince1970 * 1000).rounded())
                if ms > milliseconds, contains(ms) { return ms }
            }
        }
        // No day of the week is in the window: never open; a day later, ask again.
        return milliseconds + 86_400_000
    }
}
