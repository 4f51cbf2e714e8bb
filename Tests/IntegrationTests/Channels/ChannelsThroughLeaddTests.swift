import Foundation
import LeaddProtocol
import Testing

/// The real plugins loaded by a real leadd from its YAML config, sending to real peers: what an
/// operator's installation does.
extension Integration {
    @Suite(.serialized) struct ChannelsThroughLeaddTests {
        @Test func emailGoesOutThroughSMTP() throws {
            let server = try PeerProcess("smtp_server.py", ["--dir", "@DIR@", "--port", "@PORT@"])
            let daemon = try DaemonProcess(
                channels: """
                          mail:
                            plugin: Email
                            settings:
                              url: smtp://127.0.0.1:\(server.port)
                              tls: none
                              from: "Loja <news@example.com>"
                    """)
            try daemon.start()
            let sent = try daemon.call(
                "message.send",
                JSONObject([
                    "tenant": "acme", "channel": "mail", "to": "ana@example.org", "subject": "Proposta",
                    "text": "Olá", "html": "<p>Olá</p>", "idempotency_key": "welcome-ana",
                ]))
            let id = try #require(sent["id"]?.stringValue)
            #expect(
                try daemon.eventually {
                    try daemon.call("message.get", JSONObject(["id": .string(id)]))["state"] == "sent"
                })
            let message = try daemon.call("message.get", JSONObject(["id": .string(id)]))
            let received = server.received
            #expect(received.count == 1)
            #expect(received.first?["rcpt_tos"] == .array(["ana@example.org"]))
            let messageID = try #require(message["provider_id"]?.stringValue)
            #expect(received.first?["data"]?.stringValue?.contains("Message-ID: \(messageID)") == true)
        }

        @Test func smsGoesOutThroughKannel() throws {
            let kannel = try KannelChannelTests.kannel()
            let daemon = try DaemonProcess(
                channels: """
                          sms:
                            plugin: SMS
                            settings:
                              provider: kannel
                              base_url: http://127.0.0.1:\(kannel.port)/cgi-bin/sendsms
                              username: leadd
                              password: {file: \(kannel.directory)/password}
                              from: Loja
                    """)
            try daemon.start()
            #expect(try daemon.sendBatch(20, keyPrefix: "k") == 20)
            #expect(try daemon.allSent(20))
            #expect(kannel.eventually { KannelChannelTests.carrierMessages(kannel).count == 20 })
            #expect(
                KannelChannelTests.carrierMessages(kannel).allSatisfy {
                    $0.to == "+5511987654321" && $0.text == "hello"
                })
        }
    }
}
