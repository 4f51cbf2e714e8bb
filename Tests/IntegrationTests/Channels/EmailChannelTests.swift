import Foundation
import LeaddProtocol
import PluginAPI
import TestSupport
import Testing

/// The e-mail plugin against a real SMTP server that is not ours (aiosmtpd, Tests/Peers).
@Suite(.serialized) struct EmailChannelTests {
    let from = "Loja São João <news@example.com>"

    func smtp(_ extra: [String] = []) throws -> PeerProcess {
        try PeerProcess("smtp_server.py", ["--dir", "@DIR@", "--port", "@PORT@"] + extra)
    }

    /// A server that insists on STARTTLS and AUTH, with a certificate made for the test.
    func secureSMTP() throws -> PeerProcess {
        try PeerProcess(
            "smtp_server.py",
            [
                "--dir", "@DIR@", "--port", "@PORT@", "--tls-cert", "@DIR@/cert.pem", "--tls-key", "@DIR@/key.pem",
                "--require-tls", "--auth-user", "mailer", "--auth-password-file", "@DIR@/password",
            ]
        ) { directory in
            _ = try run("/bin/bash", [PeerProcess.peersDirectory + "/make_cert.sh", directory])
            try "correct horse\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        }
    }

    @Test func plainAndHTMLArriveAsMIME() async throws {
        let server = try smtp()
        let plugin = try LoadedPlugin(
            "Email",
            settings: JSONObject([
                "url": .string("smtp://127.0.0.1:\(server.port)"), "tls": "none", "from": .string(from),
                "connections": 1,
            ]))
        let content = JSONObject([
            "subject": "Olá, Ana! Sua proposta", "text": "Até já,\nLoja", "html": "<p>Até já</p>",
            "unsubscribe_url": "https://example.com/u/1",
        ])
        let results = await plugin.send((0..<3).map { ("ana+\($0)@example.org", content) })
        #expect(results.map(\.outcome) == [.delivered, .delivered, .delivered])
        #expect(results.allSatisfy { $0.providerID?.hasSuffix("@example.com>") == true })
        #expect(Set(results.compactMap(\.providerID)).count == 3)
        let received = server.received
        #expect(received.count == 3)
        #expect(received.map { $0["rcpt_tos"] } == (0..<3).map { .array([.string("ana+\($0)@example.org")]) })
        #expect(received.allSatisfy { $0["mail_from"] == "news@example.com" })
        // One connection, kept alive across the three messages.
        #expect(Set(received.compactMap { $0["connection"]?.serialized }).count == 1)
        let data = received.first?["data"]?.stringValue ?? ""
        let subject = "=?UTF-8?B?" + Data("Olá, Ana! Sua proposta".utf8).base64EncodedString() + "?="
        #expect(data.contains("Subject: \(subject)"))
        #expect(data.contains("Message-ID: \(results[0].providerID ?? "-")"))
        #expect(data.contains("To: <ana+0@example.org>"))
        #expect(data.contains("List-Unsubscribe: <https://example.com/u/1>"))
        #expect(data.contains("Content-Type: multipart/alternative"))
        #expect(data.contains("At=C3=A9 j=C3=A1,\r\nLoja") || data.contains("At=C3=A9 j=C3=A1,\nLoja"))
        plugin.instance.shutdown()
    }

    @Test func startTLSAndAuth() async throws {
        let server = try secureSMTP()
        for mechanism in ["PLAIN", "LOGIN"] {
            let plugin = try LoadedPlugin(
                "Email",
                settings: JSONObject([
                    "url": .string("smtp://127.0.0.1:\(server.port)"), "from": .string(from), "username": "mailer",
                    "password": .object(JSONObject(["file": .string(server.directory + "/password")])),
                    "auth": .string(mechanism), "ca_file": .string(server.directory + "/cert.pem"),
                ]))
            let result = await plugin.send(to: "bia@example.org", JSONObject(["subject": "hi", "text": "x"]))
            #expect(result.outcome == .delivered, "\(mechanism): \(result.detail ?? "")")
            plugin.instance.shutdown()
        }
        let received = server.received
        #expect(received.count == 2)
        #expect(received.allSatisfy { $0["tls"] == true && $0["auth_user"] == "mailer" })
    }

    @Test func refusalsAreClassified() async throws {
        let server = try secureSMTP()
        try server.inject(
            .array([
                .object(
                    JSONObject([
                        "rcpt_contains": "nobody@", "stage": "rcpt", "code": 550, "message": "5.1.1 no such user",
                    ])),
                .object(
                    JSONObject(["rcpt_contains": "busy@", "stage": "rcpt", "code": 451, "message": "4.3.0 try later"])),
                .object(
                    JSONObject(["rcpt_contains": "spam@", "stage": "data", "code": 554, "message": "5.7.1 rejected"])),
                .object(
                    JSONObject([
                        "rcpt_contains": "flood@", "stage": "rcpt", "code": 451,
                        "message": "4.7.0 Too many messages, rate limit exceeded",
                    ])),
            ]))
        func settings(password: String) throws -> JSONObject {
            let file = server.directory + "/given-\(password.count)"
            try password.write(toFile: file, atomically: true, encoding: .utf8)
            return JSONObject([
                "url": .string("smtp://127.0.0.1:\(server.port)"), "from": .string(from), "username": "mailer",
                "password": .object(JSONObject(["file": .string(file)])), "tls_verify": false,
            ])
        }
        let plugin = try LoadedPlugin("Email", settings: try settings(password: "correct horse"))
        let content = JSONObject(["subject": "s", "text": "t"])
        let results = await plugin.send([
            ("nobody@example.org", content), ("busy@example.org", content), ("spam@example.org", content),
            ("ok@example.org", content), ("not an address", content), ("flood@example.org", content),
        ])
        #expect(results.map(\.outcome) == [.failed, .retry, .failed, .delivered, .failed, .channelUnavailable])
        #expect(results[0].detail?.contains("550") == true)
        // A rate reply is about the account, not the recipient: the channel pauses (60 s by default).
        #expect(results[5].retryAfterMilliseconds == 60_000, "\(results[5])")
        // A reply that only says "later" (greylisting, say) is about this message alone.
        #expect(results[1].retryAfterMilliseconds == nil)
        plugin.instance.shutdown()

        let refused = try LoadedPlugin("Email", settings: try settings(password: "wrong"))
        let denied = await refused.send(to: "ok@example.org", content)
        #expect(denied.outcome == .channelUnavailable)
        #expect(denied.detail?.contains("wrong") == false)
        #expect(refused.instance.healthProblem() != nil)
        refused.instance.shutdown()
    }

    @Test func aServerThatIsDownMakesTheChannelUnavailable() async throws {
        let port = try freePort()
        let plugin = try LoadedPlugin(
            "Email",
            settings: JSONObject(["url": .string("smtp://127.0.0.1:\(port)"), "tls": "none", "from": .string(from)]))
        let result = await plugin.send(to: "a@example.org", JSONObject(["text": "t"]))
        #expect(result.outcome == .channelUnavailable)
        #expect(plugin.instance.healthProblem() != nil)
        plugin.instance.shutdown()
    }

    @Test func badSettingsAreRefused() throws {
        #expect(throws: (any Error).self) {
            try LoadedPlugin("Email", settings: JSONObject(["url": "http://x", "from": "a@b.com"]))
        }
        #expect(throws: (any Error).self) {
            try LoadedPlugin(
                "Email", settings: JSONObject(["url": "smtp://x", "from": "a@b.com", "password": "clear"]))
        }
    }
}
