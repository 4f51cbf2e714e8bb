/// An address as it appears in a From or To header: "Name <local@domain>" or "local@domain".
/// Strict on purpose: anything that could smuggle a header or a second recipient is refused.
struct MailAddress: Equatable {
    let name: String?
    let address: String

    var domain: String { String(address[address.index(after: address.lastIndex(of: "@")!)...]) }

    init?(_ text: String) {
        let trimmed = text.trimmed
        var name: String?
        var address = trimmed
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            let display = String(trimmed[..<open]).trimmed.trimmingQuotes
            name = display.isEmpty ? nil : display
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        }
        guard Self.isPlainAddress(address), name?.contains(where: \.isNewline) != true else { return nil }
        self.name = name
        self.address = address
    }

    private static func isPlainAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix(".")
        else { return false }
        return !text.unicodeScalars.contains {
            $0.value <= 32 || $0.value == 127 || "<>(),;:\\\"[]".unicodeScalars.contains($0)
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }

    fileprivate var trimmingQuotes: String {
        count >= 2 && hasPrefix("\"") && hasSuffix("\"") ? String(dropFirst().dropLast()) : self
    }
}
