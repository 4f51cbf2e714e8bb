// RFC 3339 times at the protocol's edge; Unix epoch milliseconds inside.
import Foundation

public enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let withoutFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)

    public static func parse(_ text: String) -> Int64? {
        if let fast = parseCommonForm(text) { return fast }
        return parseByFoundation(text)
    }

    static func parseByFoundation(_ text: String) -> Int64? {
        guard let date = (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text)) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` from 1970 on, read directly: every imported
    /// message has a time, and Foundation's parser took longer than storing the message. Anything
    /// else (nil here) goes to Foundation, which has the last word.
    static func parseCommonForm(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { b -> Int64? in
            guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A else {
                return nil
            }
            func digits(_ from: Int, _ count: Int) -> Int? { decimal(b, from..<from + count) }
            guard let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
                let minute = digits(14, 2), let second = digits(17, 2), year >= 1970, (1...12).contains(month),
                day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60, second < 60
            else { return nil }
            var i = 19
            var nanoseconds = 0
            if b[i] == 0x2E {
                i += 1
                var scale = 100_000_000
                let start = i
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                    nanoseconds += Int(b[i] - 0x30) * scale
                    scale /= 10
                    i += 1
                }
                guard i > start, i - start <= 9 else { return nil }
            }
            var offset = 0
            if i == b.count - 1, b[i] == 0x5A {
                offset = 0
            } else if i == b.count - 6, b[i] == 0x2B || b[i] == 0x2D, b[i + 3] == 0x3A, let h = digits(i + 1, 2),
                let m = digits(i + 4, 2), h < 24, m < 60
            {
                offset = (h * 60 + m) * (b[i] == 0x2B ? 1 : -1)
            } else {
                return nil
            }
            let days = daysFromEpoch(year: year, month: month, day: day)
            let seconds = ((days * 24 + hour) * 60 + minute - offset) * 60 + second
            return Int64(seconds) * 1000 + Int64((nanoseconds + 500_000) / 1_000_000)
        }
    }

    /// The decimal number in `bytes[range]`, nil unless every byte there is a digit.
    private static func decimal<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ range: Range<Int>) -> Int?
    where Bytes.Index == Int {
        var n = 0
        for byte in bytes[range] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            n = n * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return n
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// days_from_civil).
    private static func daysFromEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// A wall-clock time without offset (`2026-05-01T09:00`, `2026-05-01 09:00:30`) read in `zone`;
    /// a time a daylight-saving change skips is read as the first instant after the gap.
    public static func parseLocal(_ text: String, in zone: TimeZone) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16 || bytes.count == 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"),
            bytes.count == 16 || bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? { decimal(bytes, range) }
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
