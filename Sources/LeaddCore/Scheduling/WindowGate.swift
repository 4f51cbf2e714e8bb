// Whether a lane's sending window is open now, asked for every message picked, so the calendar
// arithmetic is done once per window and zone and remembered: an open window until the next
// minute (windows are whole minutes), a closed one until it opens. A reload that changes the
// window (its days, hours or zone) is seen at the next question, since the remembered answer
// carries the whole window it used.
import Foundation
import LeaddSync

public final class WindowGate: Sendable {
    private struct Answer {
        var window: SendingWindow
        var open: Bool
        var nextOpening: Int64
        var from: Int64
        var until: Int64
    }

    private let answers = Locked<[String: Answer]>([:])

    public init() {}

    /// nil when the named window (in `zoneName`, or its own zone when empty) is open at `now`,
    /// or when there is none; else when it next opens.
    public func closedUntil(schedule: String?, zone zoneName: String, config: LeaddConfig, now: Int64) -> Int64? {
        guard let name = schedule, let base = config.schedules[name] else { return nil }
        let key = name + "\u{0}" + zoneName
        if let answer = answers.withLock({ $0[key] }), answer.from <= now, now < answer.until,
            answer.window == base
        {
            return answer.open ? nil : answer.nextOpening
        }
        var window = base
        if !zoneName.isEmpty, let tz = TimeZone(identifier: zoneName) { window.timeZone = tz }
        let open = window.contains(now)
        let nextOpening = open ? now : window.nextOpening(after: now)
        let until = open ? (now / 60_000 + 1) * 60_000 : nextOpening
        answers.withLock {
            $0[key] = Answer(window: base, open: open, nextOpening: nextOpening, from: now, until: until)
        }
        return open ? nil : nextOpening
    }
}
