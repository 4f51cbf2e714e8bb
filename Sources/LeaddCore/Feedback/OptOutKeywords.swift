import Foundation

/// Opt-out words: an inbound message that is exactly one of them, once case, accents and the
/// spaces and punctuation around it are set aside, is a request to stop.
struct OptOutKeywords: Sendable {
    private let words: Set<String>

    init(_ byLanguage: [String: [String]]) {
        words = Set(byLanguage.values.joined().map(Self.normalized))
    }

    func matches(_ text: String) -> Bool { words.contains(Self.normalized(text)) }

    static func normalized(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters)).uppercased()
    }
}
