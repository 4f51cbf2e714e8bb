import Foundation
import PluginKit

/// Builds the RFC 5322 message for one send: headers, a text/plain part, an HTML part
/// (multipart/alternative when both), List-Unsubscribe when the campaign has an address for it,
/// and a Message-ID that is the same on every retry of the same message.
struct MailComposer: Sendable {
    let from: MailAddress
    let replyTo: MailAddress?
    let messageIDDomain: String

    func compose(to: MailAddress, content: MessageContent, key: String, tenant: String, date: Date = Date())
        throws(MessageProblem) -> [UInt8]
    {
        let text = content.text.flatMap { $0.isEmpty ? nil : $0 }
        let html = content.html.flatMap { $0.isEmpty ? nil : $0 }
        guard text != nil || html != nil else { throw MessageProblem("content has neither text nor html") }
        var headers = [
            "From: \(HeaderEncoding.mailbox(from))",
            "To: \(HeaderEncoding.mailbox(to))",
            "Subject: \(HeaderEncoding.encode(content.subject ?? ""))",
            "Date: \(Self.dateTime(date))",
            "Message-ID: \(messageID(key: key, tenant: tenant))",
            "MIME-Version: 1.0",
        ]
        if let replyTo { headers.append("Reply-To: \(HeaderEncoding.mailbox(replyTo))") }
        if let unsubscribe = content.unsubscribeURL {
            guard !unsubscribe.contains(where: { $0.isNewline || $0 == ">" }) else {
                throw MessageProblem("content.unsubscribe_url is not a URL")
            }
            // RFC 2369 and RFC 8058 (one-click): mail clients show an unsubscribe button.
            headers.append("List-Unsubscribe: <\(unsubscribe)>")
            if unsubscribe.hasPrefix("https:") { headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click") }
        }
        var body: [String]
        switch (text, html) {
        case (let text?, let html?):
            let boundary = "=_leadd_" + messageHash(key: key, tenant: tenant)
            headers.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            body = ["This is a message in MIME format.", "--\(boundary)"]
            body += Self.part(text, type: "text/plain") + ["--\(boundary)"]
            body += Self.part(html, type: "text/html") + ["--\(boundary)--", ""]
        case (let only?, nil), (nil, let only?):
            let single = Self.part(only, type: text != nil ? "text/plain" : "text/html")
            headers += single.prefix(2)
            body = Array(single.dropFirst(3))
        case (nil, nil):
            body = []
        }
        return Array((headers + [""] + body).joined(separator: "\r\n").utf8)
    }

    /// `<hash@domain>`: stable for a message across retries and restarts, so a receiving server
    /// and the recipient's client can recognise a duplicate.
    func messageID(key: String, tenant: String) -> String {
        "<\(messageHash(key: key, tenant: tenant))@\(messageIDDomain)>"
    }

    /// FNV-1a over 128 bits: an identifier, not a secret, so a fast non-cryptographic hash will do.
    private func messageHash(key: String, tenant: String) -> String {
        var hash: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013b
        for byte in tenant.utf8 + [0] + key.utf8 {
            hash ^= UInt128(byte)
            hash &*= prime
        }
        return String(hash, radix: 16)
    }

    private static func part(_ text: String, type: String) -> [String] {
        [
            "Content-Type: \(type); charset=UTF-8", "Content-Transfer-Encoding: quoted-printable", "",
            QuotedPrintable.encode(text),
        ]
    }

    /// RFC 5322 §3.3 date-time in UTC, e.g. "Sun, 22 Nov 2026 09:00:00 +0000".
    static func dateTime(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
