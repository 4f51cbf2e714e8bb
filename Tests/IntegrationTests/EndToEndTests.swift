import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    @Suite struct EndToEndTests {
        let leaddctl = productsDirectory + "/leaddctl"

        @Test func leaddctlSendThenGetShowsTheMessageSentThroughThePlugin() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let env = ["LEADD_SOCKET": daemon.socketPath]
            let sent = try run(
                leaddctl,
                ["send", "--json", "--tenant", "acme", "--channel", "sms", "--to", "+5511987654321", "--text", "Olá"],
                environment: env)
            #expect(sent.status == 0, "\(sent.err)")
            let id = try #require(
                try JSONValue.parse(sent.out.trimmingCharacters(in: .whitespacesAndNewlines))["id"]?.stringValue)

            var state: JSONValue?
            _ = try daemon.eventually {
                let got = try run(leaddctl, ["get", "--json", id], environment: env)
                state = try JSONValue.parse(got.out.trimmingCharacters(in: .whitespacesAndNewlines))["state"]
                return state == "sent"
            }
            #expect(state == "sent")
            let human = try run(leaddctl, ["get", id], environment: env)
            #expect(human.out.contains("state:       sent"))
            #expect(human.out.contains("delivered"))
            #expect(daemon.sentLines.count == 1)
            #expect(daemon.sentLines.first?.contains(#""text":"Olá""#) == true)

            let stats = try run(leaddctl, ["stats"], environment: env)
            #expect(stats.out.contains("sms"))
            let channels = try run(leaddctl, ["channels"], environment: env)
            #expect(channels.out.contains("running"))
            let status = try run(leaddctl, ["status"], environment: env)
            #expect(status.status == 0)
            #expect(status.out.contains("channel sms: running"))
        }

        @Test func leaddctlExitCodes() throws {
            let daemon = try DaemonProcess()
            let unreachable = try run(leaddctl, ["status", "--socket", daemon.socketPath])
            #expect(unreachable.status == 3)
            #expect(unreachable.err.contains("cannot reach leadd"))

            try daemon.start()
            let env = ["LEADD_SOCKET": daemon.socketPath]
            #expect(try run(leaddctl, ["status"], environment: env).status == 0)
            let usage = try run(leaddctl, ["send", "--channel", "sms"], environment: env)
            #expect(usage.status == 2)
            #expect(try run(leaddctl, ["frobnicate"], environment: env).status == 2)
            let refused = try run(
                leaddctl, ["send", "--tenant", "a", "--channel", "fax", "--to", "+1", "--text", "x"], environment: env)
            #expect(refused.status == 1)
            #expect(refused.err.contains("no channel 'fax' is configured"))
            let missing = try run(leaddctl, ["get", "424242"], environment: env)
            #expect(missing.status == 1)
            #expect(try run(leaddctl, ["--help"]).status == 0)
        }

        @Test func sigtermStopsCleanlyAndSighupReloads() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let good = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
            try daemon.writeConfig(good + "\nnonsense: true\n")
            daemon.signal(SIGHUP)
            #expect(daemon.eventually(timeout: 10) { daemon.log.contains("reload refused") })
            #expect(try daemon.call("status")["version"] != nil)

            try daemon.writeConfig(good)
            daemon.signal(SIGHUP)
            #expect(daemon.eventually(timeout: 10) { daemon.log.contains("configuration reloaded") })

            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit() == 0)
            #expect(daemon.log.contains("leadd stopped"))
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        }

        @Test func aBadConfigStopsStartWithLineAndColumnAndTouchesNothing() throws {
            let daemon = try DaemonProcess()
            try daemon.writeConfig(
                """
                daemon:
                  state_dir: \(daemon.directory)/state
                  socket: \(daemon.directory)/control.sock
                channels:
                  sms:
                    plugin: TestChannel
                    rate: lots
                """)
            let result = try run(productsDirectory + "/leadd", ["--config", daemon.configPath])
            #expect(result.status == 78)
            #expect(result.err.contains("\(daemon.configPath):7:11: channels.sms.rate: 'lots' is not a rate"))
            #expect(!FileManager.default.fileExists(atPath: daemon.directory + "/state"))
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))

            let check = try run(productsDirectory + "/leadd", ["--config", daemon.configPath, "--check"])
            #expect(check.status == 78)
        }

        @Test func aPluginWithAnotherABIIsRefusedAndTheOtherChannelsRun() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                      legacy:
                        plugin: BadABIPlugin
                    """)
            daemon.environment["LEADD_TEST_BAD_ABI"] = "major"
            try daemon.start()
            let file = productsDirectory + "/libBadABIPlugin.so"
            #expect(daemon.log.contains("plugin \(file) has ABI 2.0, this leadd supports 1.x"))
            let list = try #require(try daemon.call("channel.list").arrayValue)
            #expect(list.first { $0["name"] == "legacy" }?["state"] == "failed")
            #expect(list.first { $0["name"] == "sms" }?["state"] == "running")
            let id = try #require(try daemon.call("message.send", sendParams())["id"]?.stringValue)
            #expect(
                try daemon.eventually {
                    try daemon.call("message.get", JSONObject(["id": .string(id)]))["state"] == "sent"
                }
            )
        }
    }
}
