import Foundation
import LeaddProtocol
import Testing

/// The real plugins loaded by a real leadd from its YAML config, sending to real peers: what an
/// operator's installation does.
extension Integration {
    @Suite(.serialized) struct ChannelsThroughLeaddTests {
        /// An `sms` channel on the SMS plugin in Kannel mode, its password read from `passwordFile`
        /// in the Kannel peer's directory.
        static func kannelChannel(_ kannel: PeerProcess, passwordFile: String) -> String {
            """
              sms:
                plugin: SMS
                settings:
                  provider: kannel
                  base_url: http://127.0.0.1:\(kannel.port)/cgi-bin/sendsms
                  username: leadd
                  password: {file: \(kannel.directory)/\(passwordFile)}
                  from: Loja
            """
        }

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

        /// The shipped example config, with its state and socket moved into the test's directory and
        /// the credentials it names given: every channel starts; without them, each says why not.
        @Test func theExampleConfigStartsEveryChannel() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().path
            let daemon = try DaemonProcess()
            let example = try String(contentsOfFile: root + "/etc/leadd.yaml", encoding: .utf8)
            try example.replacingOccurrences(of: "/var/lib/leadd", with: daemon.directory + "/state")
                .replacingOccurrences(of: "/run/leadd/control.sock", with: daemon.socketPath)
                .replacingOccurrences(of: "daemon:\n", with: "daemon:\n  plugin_dir: \(productsDirectory)\n")
                .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
            let credentials = daemon.directory + "/credentials"
            try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
            for name in ["kannel-password", "whatsapp-access-token", "smtp-password"] {
                try "secret\n".write(toFile: "\(credentials)/providers_\(name)", atomically: true, encoding: .utf8)
            }
            daemon.environment["CREDENTIALS_DIRECTORY"] = credentials
            try daemon.start()
            let channels = try daemon.call("channel.list").arrayValue ?? []
            #expect(channels.map { $0["name"] } == ["demo", "sms", "whatsapp", "email"])
            #expect(channels.allSatisfy { $0["state"] == "running" }, "\(channels)")
            #expect(channels.map { $0["kind"] } == ["test", "sms", "whatsapp", "email"])
            daemon.signal(SIGTERM)
            daemon.waitForExit()

            daemon.environment["CREDENTIALS_DIRECTORY"] = nil
            try daemon.start()
            let down = try daemon.call("channel.list").arrayValue ?? []
            #expect(down.map { $0["state"] } == ["running", "failed", "failed", "failed"])
            #expect(down[1]["error"]?.stringValue?.contains("settings.password") == true)
        }

        /// A refused secret shows up nowhere: not in the log, a message's error, events or status.
        @Test func aWrongPasswordIsReportedWithoutIt() throws {
            let kannel = try KannelChannelTests.kannel()
            let secret = "Wr0ng-Pa55word-\(UInt32.random(in: 1000...9999))"
            try secret.write(toFile: kannel.directory + "/wrong", atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(channels: Self.kannelChannel(kannel, passwordFile: "wrong"))
            try daemon.start()
            let id = try #require(try daemon.call("message.send", sendParams(key: "s"))["id"]?.stringValue)
            #expect(
                try daemon.eventually {
                    try daemon.call("message.get", JSONObject(["id": .string(id)]))["attempts"]?.arrayValue?.isEmpty
                        == false
                })
            let message = try daemon.call("message.get", JSONObject(["id": .string(id)]))
            #expect(message["last_error"]?.stringValue?.contains("Authorization failed") == true, "\(message)")
            for text in [
                daemon.log, message.serialized, try daemon.call("channel.list").serialized,
                try daemon.call("status").serialized,
            ] {
                #expect(!text.contains(secret))
            }
        }

        @Test func smsGoesOutThroughKannel() throws {
            let kannel = try KannelChannelTests.kannel()
            let daemon = try DaemonProcess(channels: Self.kannelChannel(kannel, passwordFile: "password"))
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
