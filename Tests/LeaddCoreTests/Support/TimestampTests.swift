import Foundation
import TestSupport
import Testing

@testable import LeaddCore

@Suite struct TimestampTests {
    @Test func parsesRFC3339WithAndWithoutFractionsAndOffsets() {
        #expect(Timestamp.parse("1970-01-01T00:00:01Z") == 1_000)
        #expect(Timestamp.parse("1970-01-01T00:00:01.250Z") == 1_250)
        #expect(Timestamp.parse("1970-01-01T02:00:00+02:00") == 0)
        #expect(Timestamp.parse("tomorrow") == nil)
        #expect(Timestamp.parse("2026-13-01T00:00:00Z") == nil)
    }

    /// The direct reading of the common form agrees with Foundation's parser, and leaves to it
    /// whatever it does not read itself.
    @Test func theCommonFormIsReadAsFoundationReadsIt() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2_000 {
            let when = Int64.random(in: 0...4_102_444_800_000, using: &generator)
            let base = Timestamp.format(when)
            let minutes = Int.random(in: -14 * 60...14 * 60, using: &generator)
            let sign = minutes < 0 ? "-" : "+"
            let offset = String(format: "%@%02d:%02d", sign, abs(minutes) / 60, abs(minutes) % 60)
            for text in [
                base, String(base.dropLast(5)) + "Z", String(base.dropLast()) + offset,
                String(base.dropLast()) + "123456Z",
            ] {
                #expect(Timestamp.parseCommonForm(text) == Timestamp.parseByFoundation(text), "\(text)")
            }
        }
        for text in [
            "2026-02-29T00:00:00Z", "2026-04-31T10:00:00Z", "2026-05-01T24:00:00Z", "2026-05-01T10:00:00",
            "2026-05-01T10:00:00.Z", "1969-12-31T23:59:59Z", "2026-05-01 10:00:00Z", "2026-05-01T10:00:00+0200",
        ] {
            #expect(Timestamp.parseCommonForm(text) == nil, "\(text)")
        }
        #expect(Timestamp.parse("2024-02-29T12:00:00.5Z") == Timestamp.parseByFoundation("2024-02-29T12:00:00.5Z"))
    }

    @Test func formatsExactMillisecondsInUTC() {
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(1_795_311_483_761) == "2026-11-22T01:38:03.761Z")
        #expect(Timestamp.format(-1) == "1969-12-31T23:59:59.999Z")
    }
}

@Suite struct LocalTimestampTests {
    @Test func wallClockTimesAreReadInTheGivenZone() {
        let saoPaulo = TimeZone(identifier: "America/Sao_Paulo")!
        // 09:00 in São Paulo (UTC-3 since 2019) is 12:00 UTC.
        #expect(Timestamp.parseLocal("2026-05-04T09:00", in: saoPaulo) == Timestamp.parse("2026-05-04T12:00:00Z"))
        #expect(Timestamp.parseLocal("2026-05-04 09:00:30", in: saoPaulo) == Timestamp.parse("2026-05-04T12:00:30Z"))
        let lisbon = TimeZone(identifier: "Europe/Lisbon")!
        // Summer time in Lisbon is UTC+1; 01:30 on 2026-03-29 does not exist and reads as 02:00 WEST.
        #expect(Timestamp.parseLocal("2026-07-01T09:00", in: lisbon) == Timestamp.parse("2026-07-01T08:00:00Z"))
        #expect(Timestamp.parseLocal("2026-03-29T01:30", in: lisbon) == Timestamp.parse("2026-03-29T01:00:00Z"))
    }

    @Test func refusesWhatIsNotAWallClockTime() {
        let utc = TimeZone(identifier: "UTC")!
        for text in ["2026-04-31T09:00", "2026-13-01T09:00", "2026-05-04T25:00", "2026-05-04", "tomorrow"] {
            #expect(Timestamp.parseLocal(text, in: utc) == nil, "\(text)")
        }
    }
}
