// RFC 3339 times at the protocol's edge; Unix epoch milliseconds inside.
import Foundation

public enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let withoutFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)

    public static func parse(_ text: String) -> Int64? {
        guard let date = (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text)) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// A wall-clock time without offset (`2026-05-01T09:00`, `2026-05-01 09:00:30`) read in `zone`;
    /// a time a daylight-saving change skips is read as the first instant after the gap.
    public static func parseLocal(_ text: String, in zone: TimeZone) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16 || bytes.count == 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"),
            bytes.count == 16 || bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for b in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
                n = n * 10 + Int(b - UInt8(ascii: "0"))
            }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), (1...12).contains(month), (1...31).contains(day),
            hour < 24, minute < 60
        else { return nil }
        let second = bytes.count == 19 ? number(17..<19) : 0
        guard let second, second < 60 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        guard let firstOfMonth = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            calendar.range(of: .day, in: .month, for: firstOfMonth)?.contains(day) == true,
            let startOfDay = calendar.date(from: DateComponents(year: year, month: month, day: day)),
            let date = calendar.date(
                bySettingHour: hour, minute: minute, second: second, of: startOfDay, matchingPolicy: .nextTime,
                repeatedTimePolicy: .first, direction: .forward)
        else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// `2026-05-01T14:30:00.250Z`; built from whole seconds so no float rounding creeps in.
    public static func format(_ milliseconds: Int64) -> String {
        let (seconds, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let whole = remainder < 0 ? seconds - 1 : seconds
        let fraction = remainder < 0 ? remainder + 1000 : remainder
        let base = Date(timeIntervalSince1970: Double(whole)).formatted(withoutFraction)
        let digits = String(fraction)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}
