// Phone numbers read into E.164 against libphonenumber's numbering plans, in the tenant's
// default region when the number has no country code. One rule of our own on top: Brazilian
// mobile numbers written in the old eight-digit form (before the ninth digit, completed in 2016)
// get their 9 back when the eight-digit form is not itself a valid number, since leads' lists
// still carry them.
import CPhoneNumbers

public enum PhoneNumbers {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notANumber
        case noRegion
        case invalid(String)

        public var description: String {
            switch self {
            case .notANumber: "not a phone number"
            case .noRegion: "no country code, and the tenant has no default country"
            case .invalid(let e164): "\(e164) is not a valid number in its country's numbering plan"
            }
        }
    }

    /// The E.164 form of `text`, read in `region` when it has no +country code.
    public static func normalize(_ text: String, region: String?) -> Result<String, Failure> {
        let first = parse(text, region: region)
        if case .failure(.invalid(let e164)) = first, let fixed = brazilianNinthDigit(e164) {
            if case .success(let value) = parse(fixed, region: nil) { return .success(value) }
        }
        return first
    }

    private static func parse(_ text: String, region: String?) -> Result<String, Failure> {
        var out = [CChar](repeating: 0, count: 32)
        var digits: Int32 = 0
        let status = out.withUnsafeMutableBufferPointer { buffer in
            leadd_phone_normalize(text, region, buffer.baseAddress, buffer.count, &digits)
        }
        let written = String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch Int(status) {
        case Int(LEADD_PHONE_OK.rawValue):
            return .success(written)
        case Int(LEADD_PHONE_INVALID.rawValue):
            return .failure(.invalid(written))
        case Int(LEADD_PHONE_NO_REGION.rawValue):
            return .failure(.noRegion)
        default:
            return .failure(.notANumber)
        }
    }

    /// +55 AA NNNNNNNN with a mobile first digit (6-9): the same number with the ninth digit.
    static func brazilianNinthDigit(_ e164: String) -> String? {
        let digits = Array(e164.utf8.dropFirst())
        guard e164.hasPrefix("+55"), digits.count == 12, let first = digits.dropFirst(4).first,
            (UInt8(ascii: "6")...UInt8(ascii: "9")).contains(first)
        else { return nil }
        return "+55" + String(decoding: digits[2..<4], as: UTF8.self) + "9"
            + String(decoding: digits[4...], as: UTF8.self)
    }

    public static func isKnownRegion(_ code: String) -> Bool { leadd_phone_known_region(code) == 1 }
}
