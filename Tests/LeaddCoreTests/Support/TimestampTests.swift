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

    @Test func formatsExactMillisecondsInUTC() {
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(1_795_311_483_761) == "2026-11-22T01:38:03.761Z")
        #expect(Timestamp.format(-1) == "1969-12-31T23:59:59.999Z")
    }
}
