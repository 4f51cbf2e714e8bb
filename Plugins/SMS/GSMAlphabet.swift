/// The GSM 03.38 default alphabet and its extension table (3GPP TS 23.038 §6.2.1): text made
/// only of these can go as 7-bit SMS (160 characters a part); anything else needs UCS-2 (70).
enum GSMAlphabet {
    static let characters: Set<Character> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
            // The extension table, each sent as escape + one character.
            + "^{}\\[~]|€\u{0C}"
    ).union(["\r\n"])

    static func contains(_ text: String) -> Bool { text.allSatisfy { characters.contains($0) } }
}
