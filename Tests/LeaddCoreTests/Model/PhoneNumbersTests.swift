import Testing

@testable import LeaddCore

@Suite struct PhoneNumbersTests {
    @Test(
        arguments: [
            ("(11) 98765-4321", "BR", "+5511987654321"),
            ("11 98765 4321", "BR", "+5511987654321"),
            ("+55 11 98765-4321", nil, "+5511987654321"),
            ("0055 11 98765 4321", "PT", "+5511987654321"),
            // The old eight-digit mobile form gets its ninth digit.
            ("(11) 8765-4321", "BR", "+5511987654321"),
            ("+55 21 9765-4321", nil, "+5521997654321"),
            // A landline keeps eight digits.
            ("(11) 3456-7890", "BR", "+551134567890"),
            ("912 345 678", "PT", "+351912345678"),
            ("(212) 555-0123", "US", "+12125550123"),
        ] as [(String, String?, String)])
    func normalizes(text: String, region: String?, e164: String) {
        #expect(PhoneNumbers.normalize(text, region: region) == .success(e164))
    }

    @Test func refusesWhatIsNotANumberWithTheReason() {
        #expect(PhoneNumbers.normalize("call me", region: "BR") == .failure(.notANumber))
        #expect(PhoneNumbers.normalize("98765-4321", region: nil) == .failure(.noRegion))
        if case .failure(.invalid) = PhoneNumbers.normalize("+55 11 12345", region: nil) {
        } else {
            Issue.record("a too short Brazilian number was accepted")
        }
    }

    @Test func knowsRegions() {
        #expect(PhoneNumbers.isKnownRegion("BR"))
        #expect(!PhoneNumbers.isKnownRegion("XX"))
    }
}
