import Foundation
import PluginKit
import Testing

@testable import Email

@Suite struct MailComposerTests {
    let composer = MailComposer(
        from: MailAddress("Loja São João <news@example.com>")!, replyTo: nil, messageIDDomain: "example.com")

    func compose(_ content: String, to: String = "ana@example.org") throws -> String {
        let mail = try composer.compose(
            to: MailAddress(to)!, content: try MessageContent(json: content), key: "campaign:c:lead:1:step:0",
            tenant: "acme", date: Date(timeIntervalSince1970: 1_795_338_000))
        return String(decoding: mail, as: UTF8.self)
    }

    @Test func plainAndHTMLMakeAnAlternative() throws {
        let mail = try compose(#"{"subject":"Olá, Ana!","text":"Até já","html":"<p>Até já</p>"}"#)
        #expect(mail.contains("From: =?UTF-8?B?"))
        #expect(mail.contains("To: <ana@example.org>\r\n"))
        #expect(mail.contains("Subject: =?UTF-8?B?T2zDoSwgQW5hIQ==?=\r\n"))
        #expect(mail.contains("Date: Sun, 22 Nov 2026 09:00:00 +0000\r\n"))
        #expect(mail.contains("Content-Type: multipart/alternative; boundary="))
        #expect(
            mail.contains(
                "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nAt=C3=A9 j=C3=A1"
            ))
        #expect(mail.contains("Content-Type: text/html; charset=UTF-8"))
        #expect(!mail.contains("List-Unsubscribe"))
        // Every line ends in CRLF and none is longer than SMTP allows.
        #expect(!mail.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(mail.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 998 })
    }

    @Test func theMessageIDIsStableAcrossRetries() throws {
        let first = composer.messageID(key: "k1", tenant: "acme")
        #expect(first == composer.messageID(key: "k1", tenant: "acme"))
        #expect(first != composer.messageID(key: "k2", tenant: "acme"))
        #expect(first != composer.messageID(key: "k1", tenant: "other"))
        #expect(first.hasPrefix("<") && first.hasSuffix("@example.com>"))
        #expect(
            try compose(#"{"text":"x"}"#).contains(
                "Message-ID: \(composer.messageID(key: "campaign:c:lead:1:step:0", tenant: "acme"))\r\n"))
    }

    @Test func unsubscribeHeadersFollowRFC8058() throws {
        let mail = try compose(#"{"text":"x","unsubscribe_url":"https://example.com/u?l=1"}"#)
        #expect(mail.contains("List-Unsubscribe: <https://example.com/u?l=1>\r\n"))
        #expect(mail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
        #expect(!mail.contains("multipart"))
    }

    @Test func headersCannotBeSmuggled() throws {
        #expect(MailAddress("a@b.com\r\nBcc: x@y.com") == nil)
        #expect(MailAddress("a@b.com, c@d.com") == nil)
        #expect(MailAddress("Name <a@b.com>")?.name == "Name")
        let mail = try compose(#"{"subject":"hi\r\nBcc: x@y.com","text":"x"}"#)
        #expect(!mail.contains("\r\nBcc:"))
        #expect(throws: MessageProblem.self) { try compose(#"{"subject":"no body"}"#) }
    }

    @Test func longWordsAndLinesAreFolded() {
        let subject = HeaderEncoding.encode(String(repeating: "çã", count: 40))
        #expect(subject.components(separatedBy: "\r\n ").allSatisfy { $0.count <= 75 && $0.hasPrefix("=?UTF-8?B?") })
        let body = QuotedPrintable.encode(String(repeating: "a", count: 200) + " \nend")
        #expect(body.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        #expect(body.hasSuffix("=20\r\nend"))
    }
}
