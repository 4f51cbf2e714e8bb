import Foundation

/// Header text as RFC 5322 and RFC 2047 want it: plain ASCII stays as it is; anything else becomes
/// UTF-8 "B" encoded-words of at most 75 characters, folded onto continuation lines, never
/// splitting a character.
enum HeaderEncoding {
    static func encode(_ text: String) -> String {
        let flat = text.map { $0.isNewline ? " " : String($0) }.joined()
        let plain = flat.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 } && !flat.contains("=?")
        if plain && flat.utf8.count <= 900 { return flat }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in flat {
            let bytes = Array(String(character).utf8)
            // 45 bytes of base64 make 60 characters: with "=?UTF-8?B?" and "?=", 72 in all.
            if chunk.count + bytes.count > 45 {
                words.append(word(chunk))
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(word(chunk)) }
        return words.joined(separator: "\r\n ")
    }

    /// A display name and address for From/To/Reply-To.
    static func mailbox(_ address: MailAddress) -> String {
        guard let name = address.name else { return "<\(address.address)>" }
        let safe = name.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 && $0 != "\"" && $0 != "\\" }
        return (safe ? "\"\(name)\"" : encode(name)) + " <\(address.address)>"
    }

    private static func word(_ bytes: [UInt8]) -> String { "=?UTF-8?B?" + Data(bytes).base64EncodedString() + "?=" }
}
