// A lead's e-mail address in the form it is stored and compared in.

public enum LeadAddress {
    /// Trimmed and lower-cased when it looks like local@domain.tld; nil otherwise. Deliberately
    /// loose: the mail server is the judge of the rest.
    public static func email(_ text: String) -> String? {
        let s = text.trimmingWhitespace().lowercased()
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), s.utf8.count <= 254, !s.contains(where: { $0 == " " || $0 == "<" || $0 == ">" })
        else { return nil }
        return s
    }
}
