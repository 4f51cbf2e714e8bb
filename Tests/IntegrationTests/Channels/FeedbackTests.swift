import Foundation
import LeaddClient
import LeaddProtocol
import TestSupport
import Testing

/// Receipts and opt-outs through leadd's webhook listener, with the providers' real peers sending
/// the messages and signatures computed independently (openssl), the way the providers document.
extension Integration {
    @Suite(.serialized) struct FeedbackTests {
        /// Runs curl against the webhook listener; returns the HTTP status and the body.
        static func http(
            _ method: String, port: Int, path: String, body: String? = nil, headers: [String] = []
        ) throws -> (status: Int, body: String) {
            var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]
            for header in headers { arguments += ["-H", header] }
            if let body { arguments += ["--data-binary", body] }
            arguments.append("http://127.0.0.1:\(port)\(path)")
            let result = try run("/usr/bin/curl", arguments)
            let lines = result.out.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        /// `openssl dgst` as an independent HMAC: base64 (Twilio, SHA-1) or hex (Meta, SHA-256).
        static func hmac(_ digest: String, key: String, _ data: String, base64: Bool) throws -> String {
            let file = NSTemporaryDirectory() + "leadd-hmac-\(UUID().uuidString)"
            try data.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let command =
                base64
                ? "openssl dgst -\(digest) -hmac '\(key)' -binary '\(file)' | base64"
                : "openssl dgst -\(digest) -hmac '\(key)' '\(file)' | sed 's/.*= //'"
            return try run("/bin/sh", ["-c", command]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        static func webhooks(_ port: Int, _ directory: String) -> String {
            """
            webhooks:
              listen: 127.0.0.1:\(port)
              public_url: https://hooks.example.com
              twilio_auth_token: {file: \(directory)/twilio-token}
              whatsapp_app_secret: {file: \(directory)/app-secret}
              whatsapp_verify_token: {file: \(directory)/verify-token}
              kannel_token: {file: \(directory)/kannel-token}
              unsubscribe_secret: {file: \(directory)/unsubscribe-secret}
            """
        }

        /// leadd with `channels` and the webhook listener on a free port, its secrets written.
        static func daemonWithWebhooks(port: Int? = nil, channels: String, name: String = #function) throws -> (
            DaemonProcess, Int
        ) {
            let port = try port ?? freePort()
            let daemon = try DaemonProcess(channels: channels, name: name)
            try Self.writeSecrets(daemon.directory)
            try daemon.writeConfig(
                try String(contentsOfFile: daemon.configPath, encoding: .utf8) + "\n" + webhooks(port, daemon.directory)
            )
            try daemon.start()
            return (daemon, port)
        }

        static func writeSecrets(_ directory: String) throws {
            for (name, value) in [
                ("twilio-token", "tw-auth-token"), ("app-secret", "meta-app-secret"), ("verify-token", "verify-me"),
                ("kannel-token", "kannel-cb"), ("unsubscribe-secret", "unsub-key"),
            ] {
                try value.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
            }
        }

        func message(_ daemon: DaemonProcess, _ id: String) throws -> JSONValue {
            try daemon.call("message.get", JSONObject(["id": .string(id)]))
        }

        @Test func kannelReportsAndAnInboundSAIR() throws {
            let port = try freePort()
            let kannel = try KannelChannelTests.kannel(
                moURL: "http://127.0.0.1:\(port)/kannel/inbound?from=%p&to=%P&text=%a&token=kannel-cb")
            let (daemon, _) = try Self.daemonWithWebhooks(
                port: port,
                channels: ChannelsThroughLeaddTests.kannelChannel(kannel, passwordFile: "password") + """

                          dlr_mask: 3
                          dlr_url: "http://127.0.0.1:\(port)/kannel/dlr?id={id}&status=%d&token=kannel-cb"
                    """)
            let first = try #require(try daemon.call("message.send", sendParams(key: "now"))["id"]?.stringValue)
            let later = try #require(
                try daemon.call("message.send", sendParams(key: "later", sendAt: "2031-01-01T00:00:00Z"))["id"]?
                    .stringValue)
            // fakesmsc acknowledges the SMS; Kannel reports it delivered to the dlr-url.
            #expect(try daemon.eventually { try message(daemon, first)["state"] == "delivered" })
            #expect(
                try message(daemon, first)["attempts"]?.arrayValue?.contains { $0["outcome"] == "delivered" } == true)
            // A report without the shared token is refused.
            #expect(try Self.http("GET", port: port, path: "/kannel/dlr?id=\(first)&status=2").status == 403)

            // The lead answers "Sair" from the phone: fakesmsc hands it to bearerbox as an MO
            // message, and smsbox's sms-service calls its get-url with %p and %a filled in.
            let mo = try #require(FileHandle(forWritingAtPath: kannel.directory + "/mo"))
            mo.write(Data("+5511987654321 1234 text Sair\n".utf8))
            try mo.close()
            #expect(try daemon.eventually { try message(daemon, later)["state"] == "cancelled" })
            let suppressed = try daemon.call("suppression.list", JSONObject(["tenant": "acme"]))
            #expect(suppressed.serialized.contains("+5511987654321"))
            // Nothing more goes to that number.
            let again = try #require(try daemon.call("message.send", sendParams(key: "again"))["id"]?.stringValue)
            #expect(try daemon.eventually { try message(daemon, again)["state"] == "cancelled" })
        }

        @Test func signedTwilioCallbacksAreBelievedForgedOnesRefused() throws {
            let mock = try TwilioChannelTests().mock()
            let (daemon, port) = try Self.daemonWithWebhooks(
                channels: """
                          sms:
                            plugin: SMS
                            settings:
                              provider: twilio
                              base_url: http://127.0.0.1:\(mock.port)
                              account_sid: \(TwilioChannelTests.account)
                              auth_token: {file: \(mock.directory)/token}
                              from: "+15005550006"
                    """)
            let id = try #require(try daemon.call("message.send", sendParams(key: "tw"))["id"]?.stringValue)
            #expect(try daemon.eventually { try message(daemon, id)["provider_id"]?.stringValue != nil })
            let sid = try #require(try message(daemon, id)["provider_id"]?.stringValue)

            let form = "MessageSid=\(sid)&MessageStatus=delivered&To=%2B5511987654321"
            let signed =
                "https://hooks.example.com/twilio/status" + "MessageSid\(sid)" + "MessageStatusdelivered"
                + "To+5511987654321"
            let signature = try Self.hmac("sha1", key: "tw-auth-token", signed, base64: true)
            let contentType = "Content-Type: application/x-www-form-urlencoded"
            #expect(
                try Self.http("POST", port: port, path: "/twilio/status", body: form, headers: [contentType]).status
                    == 403)
            #expect(
                try Self.http(
                    "POST", port: port, path: "/twilio/status", body: form,
                    headers: [contentType, "X-Twilio-Signature: AAAA\(signature.dropFirst(4))"]
                ).status == 403)
            #expect(try message(daemon, id)["state"] == "sent")
            #expect(
                try Self.http(
                    "POST", port: port, path: "/twilio/status", body: form,
                    headers: [contentType, "X-Twilio-Signature: \(signature)"]
                ).status == 200)
            #expect(try message(daemon, id)["state"] == "delivered")
            let metrics = try daemon.call("metrics").serialized
            #expect(metrics.contains("leadd_webhooks_total"))
        }

        @Test func whatsappHandshakeStatusesAndAnInboundPARAR() throws {
            let fake = try OutageTests.fake()
            let (daemon, port) = try Self.daemonWithWebhooks(
                channels: """
                          whatsapp:
                            plugin: WhatsApp
                            settings:
                              base_url: http://127.0.0.1:\(fake.port)
                              phone_number_id: "\(OutageTests.phoneNumberID)"
                              access_token: {file: \(fake.directory)/token}
                    """)
            // Meta's verification handshake.
            let verify = "/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token="
            #expect(try Self.http("GET", port: port, path: verify + "verify-me").body == "1158201444")
            #expect(try Self.http("GET", port: port, path: verify + "guess").status == 403)

            var params = sendParams(key: "wa")
            params["channel"] = "whatsapp"
            let id = try #require(try daemon.call("message.send", params)["id"]?.stringValue)
            var later = sendParams(key: "wa-later", sendAt: "2031-01-01T00:00:00Z")
            later["channel"] = "whatsapp"
            let pending = try #require(try daemon.call("message.send", later)["id"]?.stringValue)
            #expect(try daemon.eventually { try message(daemon, id)["provider_id"]?.stringValue != nil })
            let wamid = try #require(try message(daemon, id)["provider_id"]?.stringValue)

            let statuses =
                #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"\#(wamid)","status":"read","timestamp":"1750263773","recipient_id":"5511987654321"}]}}]}]}"#
            let signature = "sha256=" + (try Self.hmac("sha256", key: "meta-app-secret", statuses, base64: false))
            let json = "Content-Type: application/json"
            #expect(try Self.http("POST", port: port, path: "/whatsapp", body: statuses, headers: [json]).status == 403)
            #expect(
                try Self.http(
                    "POST", port: port, path: "/whatsapp", body: statuses,
                    headers: [json, "X-Hub-Signature-256: sha256=\(String(repeating: "0", count: 64))"]
                ).status == 403)
            #expect(try message(daemon, id)["state"] == "sent")
            #expect(
                try Self.http(
                    "POST", port: port, path: "/whatsapp", body: statuses,
                    headers: [json, "X-Hub-Signature-256: \(signature)"]
                ).status == 200)
            #expect(try message(daemon, id)["state"] == "read")

            let inbound =
                #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"5511987654321"}],"messages":[{"from":"5511987654321","id":"wamid.in1","timestamp":"1750263800","type":"text","text":{"body":"PARAR"}}]}}]}]}"#
            let inboundSignature = "sha256=" + (try Self.hmac("sha256", key: "meta-app-secret", inbound, base64: false))
            #expect(
                try Self.http(
                    "POST", port: port, path: "/whatsapp", body: inbound,
                    headers: [json, "X-Hub-Signature-256: \(inboundSignature)"]
                ).status == 200)
            #expect(try message(daemon, pending)["state"] == "cancelled")
        }

        @Test func anUndeliveredReportFallsBackOnce() throws {
            let (daemon, port) = try Self.daemonWithWebhooks(
                channels: """
                          sms:
                            plugin: TestChannel
                          backup:
                            plugin: TestChannel
                            settings:
                              file: "@SENT@"
                    """)
            _ = try daemon.call(
                "campaign.create",
                try JSONValue.parse(
                    #"{"tenant":"acme","id":"fb","name":"FB","steps":[{"channel":"sms","template":{"text":"Oi"},"fallback":"backup"}]}"#
                ).objectValue ?? JSONObject())
            _ = try daemon.call(
                "lead.import",
                try JSONValue.parse(#"{"campaign":"fb","leads":[{"id":"ana","phone":"+5511987654321"}]}"#).objectValue
                    ?? JSONObject())
            let lead = try daemon.call("lead.get", JSONObject(["campaign": "fb", "key": "ana"]))
            let id = try #require(lead["messages"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(try daemon.eventually { try message(daemon, id)["state"] == "sent" })
            for _ in 0..<2 {
                #expect(
                    try Self.http("GET", port: port, path: "/kannel/dlr?id=\(id)&status=2&token=kannel-cb").status
                        == 200)
            }
            #expect(try message(daemon, id)["state"] == "undelivered")
            #expect(daemon.eventually { daemon.sentRecords.count == 1 })
            usleep(300_000)
            #expect(daemon.sentRecords.count == 1)
            #expect(daemon.sentRecords.first?["key"] == "campaign:fb:lead:ana:step:1:fallback")
        }

        /// Kannel signs nothing: without a `kannel_token`, a forged STOP or delivery report is
        /// refused, and nothing changes.
        @Test func kannelCallbacksAreRefusedWithoutAToken() throws {
            let port = try freePort()
            let daemon = try DaemonProcess()
            try Self.writeSecrets(daemon.directory)
            try daemon.writeConfig(
                try String(contentsOfFile: daemon.configPath, encoding: .utf8) + "\n"
                    + Self.webhooks(port, daemon.directory).replacingOccurrences(
                        of: "  kannel_token: {file: \(daemon.directory)/kannel-token}\n", with: ""))
            try daemon.start()
            let sent = try daemon.call("message.send", sendParams(key: "k1", sendAt: "2031-01-01T00:00:00Z"))
            let id = try #require(sent["id"]?.stringValue)
            #expect(try Self.http("GET", port: port, path: "/kannel/dlr?id=\(id)&status=2").status == 403)
            #expect(
                try Self.http("GET", port: port, path: "/kannel/inbound?from=%2B5511987654321&to=1234&text=STOP").status
                    == 403)
            #expect(try daemon.call("suppression.list")["suppressions"]?.arrayValue?.isEmpty == true)
            #expect(try daemon.call("message.get", JSONObject(["id": .string(id)]))["state"] == "scheduled")
        }

        @Test func oneClickUnsubscribe() throws {
            let (daemon, port) = try Self.daemonWithWebhooks(
                channels: """
                          sms:
                            plugin: TestChannel
                            settings:
                              file: "@SENT@"
                          email:
                            plugin: TestChannel
                            address: email
                    """)
            _ = try daemon.call(
                "campaign.create",
                try JSONValue.parse(
                    #"{"tenant":"acme","id":"news","name":"News","unsubscribe_url":"https://hooks.example.com/unsubscribe/{token}","steps":[{"channel":"email","template":{"subject":"Oi","text":"Oi {{name}}"}},{"channel":"email","template":{"subject":"De novo","text":"Oi"},"delay":"30d"}]}"#
                ).objectValue ?? JSONObject())
            _ = try daemon.call(
                "lead.import",
                try JSONValue.parse(
                    #"{"campaign":"news","leads":[{"id":"ana","email":"Ana@Example.org","name":"Ana"}]}"#
                )
                .objectValue ?? JSONObject())
            let lead = try daemon.call("lead.get", JSONObject(["campaign": "news", "key": "ana"]))
            let messages = lead["messages"]?.arrayValue ?? []
            let firstID = try #require(messages.first?["id"]?.stringValue)
            let url = try #require(try message(daemon, firstID)["content"]?["unsubscribe_url"]?.stringValue)
            #expect(url.hasPrefix("https://hooks.example.com/unsubscribe/") && !url.contains("{token}"))
            let path = String(url.dropFirst("https://hooks.example.com".count))
            #expect(try Self.http("POST", port: port, path: path + "x").status == 403)
            #expect(try Self.http("POST", port: port, path: path, body: "List-Unsubscribe=One-Click").status == 200)
            let suppressed = try daemon.call("suppression.list", JSONObject(["tenant": "acme"]))
            #expect(suppressed.serialized.contains("ana@example.org"))
            let second = try #require(messages.last?["id"]?.stringValue)
            #expect(try message(daemon, second)["state"] == "cancelled")
        }

        /// With senders, a reply names its tenant by the number it was sent to, not by who wrote
        /// to the lead last.
        @Test func aReplyToATenantsOwnNumberOptsOutOfThatTenantOnly() throws {
            let port = try freePort()
            let kannel = try KannelChannelTests.kannel(
                moURL: "http://127.0.0.1:\(port)/kannel/inbound?from=%p&to=%P&text=%a&token=kannel-cb")
            let (daemon, _) = try Self.daemonWithWebhooks(
                port: port,
                channels: ChannelsThroughLeaddTests.kannelChannel(kannel, passwordFile: "password") + """

                        senders:
                          loja-a: {settings: {from: "+5511955550001"}}
                          loja-b: {settings: {from: "+5511955550002"}}
                    tenants:
                      overrides:
                        acme: {senders: [loja-a]}
                        beta: {senders: [loja-b]}
                    """)
            let later = "2031-01-01T00:00:00Z"
            let acme = try #require(
                try daemon.call("message.send", sendParams(tenant: "acme", key: "a", sendAt: later))["id"]?.stringValue)
            let beta = try #require(
                try daemon.call("message.send", sendParams(tenant: "beta", key: "b", sendAt: later))["id"]?.stringValue)
            // The lead answers acme's number, through fakesmsc and Kannel; beta wrote to it last.
            let mo = try #require(FileHandle(forWritingAtPath: kannel.directory + "/mo"))
            mo.write(Data("+5511987654321 +5511955550001 text SAIR\n".utf8))
            try mo.close()
            #expect(try daemon.eventually { try message(daemon, acme)["state"] == "cancelled" })
            #expect(try message(daemon, beta)["state"] == "scheduled")
            let listed = try daemon.call("suppression.list", JSONObject()).serialized
            #expect(listed.contains("acme") && !listed.contains("beta"), "\(listed)")
        }

        /// A tenant's own opt-out words count for its leads only, besides the installation's.
        @Test func aTenantsOwnOptOutWords() throws {
            let (daemon, port) = try Self.daemonWithWebhooks(
                channels: """
                          sms:
                            plugin: TestChannel
                            settings:
                              file: "@SENT@"
                    """)
            _ = try daemon.call(
                "tenant.put",
                try JSONValue.parse(#"{"id":"acme","optout_keywords":{"pt":["Não quero mais"]}}"#).objectValue
                    ?? JSONObject())
            #expect(
                try daemon.call("tenant.get", JSONObject(["id": "acme"]))["optout_keywords"]?["pt"]
                    == .array(["Não quero mais"]))
            let later = "2031-01-01T00:00:00Z"
            let acme = try #require(
                try daemon.call("message.send", sendParams(to: "+5511911110000", key: "a", sendAt: later))["id"]?
                    .stringValue)
            let other = try #require(
                try daemon.call(
                    "message.send", sendParams(tenant: "beta", to: "+5511922220000", key: "b", sendAt: later))["id"]?
                    .stringValue)
            func reply(_ from: String, _ text: String) throws -> Int {
                let query =
                    "from=\(from.replacingOccurrences(of: "+", with: "%2B"))&to=1234&text=\(text)&token=kannel-cb"
                return try Self.http("GET", port: port, path: "/kannel/inbound?" + query).status
            }
            #expect(try reply("+5511922220000", "nao+quero+mais") == 200)
            #expect(try message(daemon, other)["state"] == "scheduled")
            #expect(try reply("+5511911110000", "NAO+QUERO+MAIS!") == 200)
            #expect(try message(daemon, acme)["state"] == "cancelled")
            do {
                _ = try daemon.call(
                    "tenant.put",
                    try JSONValue.parse(#"{"id":"acme","optout_keywords":{"pt":[""]}}"#).objectValue ?? JSONObject())
                Issue.record("an empty opt-out word was accepted")
            } catch let ClientError.refused(_, message, _) {
                #expect(message.contains("optout_keywords.pt[0]"), "\(message)")
            }
        }
    }
}
