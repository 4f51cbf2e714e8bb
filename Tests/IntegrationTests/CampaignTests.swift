import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    /// Tenants, campaigns, lead import and suppression through leaddctl and the socket.
    @Suite struct CampaignProcessTests {
        let leaddctl = productsDirectory + "/leaddctl"

        /// An `sms` channel and a `mail` channel that sends to the lead's e-mail, both on the test plugin.
        static let channels = """
                  sms:
                    plugin: TestChannel
                    settings:
                      file: "@SENT@"
                  mail:
                    plugin: TestChannel
                    address: email
                    settings:
                      file: "@SENT@"
            """

        func object(_ json: String) throws -> JSONObject {
            guard case .object(let o) = try JSONValue.parse(json) else { throw DaemonError.exited(0, log: json) }
            return o
        }

        func write(_ text: String, to name: String, in daemon: DaemonProcess) throws -> String {
            let path = daemon.directory + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        @Test func importedLeadsGetEveryStepAndAReimportAddsNothing() throws {
            let daemon = try DaemonProcess(channels: Self.channels)
            try daemon.start()
            let env = ["LEADD_SOCKET": daemon.socketPath]
            let put = try run(
                leaddctl, ["tenant", "put", "acme", "--country", "BR", "--timezone", "America/Sao_Paulo"],
                environment: env)
            #expect(put.status == 0, "\(put.err)")
            let spec = try write(
                """
                {"tenant": "acme", "id": "welcome", "name": "Welcome",
                 "steps": [{"channel": "sms", "template": {"text": "Oi {{name}}, plano {{plan}}"}},
                           {"channel": "mail", "delay": "1s",
                            "template": {"subject": "Bem-vindo {{name}}", "text": "Plano {{plan}}"}}]}
                """, to: "campaign.json", in: daemon)
            let created = try run(leaddctl, ["campaign", "create", spec], environment: env)
            #expect(created.status == 0, "\(created.err)")
            let csv = try write(
                """
                phone,email,name,plan
                (11) 98765-4321,ana@example.com,Ana,ouro
                11 8765-1234,bia@example.com,Bia,prata
                +55 21 99876-5432,CAIO@example.com,Caio,bronze
                12345,dani@example.com,Dani,ouro
                11 97777-0000,eva@example.com,Eva,

                """, to: "leads.csv", in: daemon)
            let imported = try run(leaddctl, ["import", csv, "--campaign", "welcome"], environment: env)
            // Rows were rejected, so the exit code says so; the good rows are stored.
            #expect(imported.status == 1)
            #expect(imported.out.contains("5 rows: 3 accepted (6 messages), 2 rejected"), "\(imported.out)")
            #expect(imported.out.contains("row 4 phone"), "\(imported.out)")
            #expect(imported.out.contains("row 5 vars.plan"), "\(imported.out)")
            #expect(try daemon.allSent(6))
            let records = daemon.sentRecords
            #expect(
                Set(records.map { $0["to"]?.stringValue ?? "" }) == [
                    "+5511987654321", "+5511987651234", "+5521998765432", "ana@example.com", "bia@example.com",
                    "caio@example.com",
                ])
            #expect(records.contains { $0["content"]?["text"] == "Oi Bia, plano prata" })
            #expect(records.contains { $0["content"]?["subject"] == "Bem-vindo Caio" })

            let again = try run(leaddctl, ["import", csv, "--campaign", "welcome", "--json"], environment: env)
            let summary = try JSONValue.parse(again.out.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(summary["accepted"] == .integer(0))
            #expect(summary["rejected"]?.arrayValue?.count == 5)
            usleep(300_000)
            #expect(daemon.sentLines.count == 6)

            let lead = try daemon.call(
                "lead.get", JSONObject(["campaign": "welcome", "key": .string("(11) 98765-4321")]))
            #expect(lead["messages"]?.arrayValue?.map { $0["state"] } == ["sent", "sent"])
            let campaign = try daemon.call("campaign.get", JSONObject(["id": "welcome"]))
            #expect(campaign["messages"]?["sent"] == .integer(6))
        }

        @Test func pauseHoldsEverySendAndResumeContinuesWithoutRepeats() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        rate: 20/s
                        burst: 1
                        batch_size: 1
                        settings:
                          file: "@SENT@"
                    """)
            try daemon.start()
            _ = try daemon.call(
                "campaign.create",
                try object(
                    #"{"tenant": "acme", "id": "drip", "name": "Drip", "steps": [{"channel": "sms", "template": {"text": "hi {{name}}"}}]}"#
                ))
            let leads: [JSONValue] = (0..<60).map {
                .object(JSONObject(["phone": .string("+55119\(String(80_000_000 + $0))"), "name": "x"]))
            }
            let result = try daemon.call("lead.import", JSONObject(["campaign": "drip", "leads": .array(leads)]))
            #expect(result["accepted"] == .integer(60))
            #expect(try daemon.eventually(timeout: 10) { daemon.sentLines.count >= 10 })
            let paused = try daemon.call("campaign.pause", JSONObject(["id": "drip"]))
            let held = paused["paused"]?.int64Value ?? 0
            #expect(held > 0)
            usleep(300_000)
            let afterPause = daemon.sentLines.count
            usleep(700_000)
            #expect(daemon.sentLines.count == afterPause, "sends went on while paused")
            #expect(try daemon.call("campaign.get", JSONObject(["id": "drip"]))["state"] == "paused")
            _ = try daemon.call("campaign.resume", JSONObject(["id": "drip"]))
            #expect(try daemon.allSent(60))
            let keys = daemon.sentRecords.compactMap { $0["key"]?.stringValue }
            #expect(keys.count == 60)
            #expect(Set(keys).count == 60)

            // Cancel reports what it ended.
            let more: [JSONValue] = (60..<70).map {
                .object(
                    JSONObject([
                        "phone": .string("+55119\(String(80_000_000 + $0))"), "name": "x",
                        "send_at": "2030-01-01T00:00:00Z",
                    ]))
            }
            _ = try daemon.call("lead.import", JSONObject(["campaign": "drip", "leads": .array(more)]))
            let cancelled = try daemon.call("campaign.cancel", JSONObject(["id": "drip"]))
            #expect(cancelled["cancelled"] == .integer(10))
            let refused = try daemon.client()
            try refused.writeLine(
                ControlClient.request("lead.import", JSONObject(["campaign": "drip", "leads": .array(more)]), id: 1)
                    .serialized)
            #expect(try refused.readResponse()["error"]?["data"]?["field"] == "campaign")
        }

        @Test func aLeadSuppressedAfterImportIsSkippedAtSendTime() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let env = ["LEADD_SOCKET": daemon.socketPath]
            _ = try daemon.call("tenant.put", JSONObject(["id": "acme", "country": "BR"]))
            _ = try daemon.call(
                "campaign.create",
                try object(
                    #"{"tenant": "acme", "id": "later", "name": "Later", "steps": [{"channel": "sms", "template": {"text": "hello"}}]}"#
                ))
            let due = Date().addingTimeInterval(1.5).formatted(
                Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            let leads: [JSONValue] = ["11 98888-0001", "11 98888-0002"].map {
                .object(JSONObject(["phone": .string($0), "send_at": .string(due)]))
            }
            #expect(
                try daemon.call("lead.import", JSONObject(["campaign": "later", "leads": .array(leads)]))["accepted"]
                    == .integer(2))
            let added = try run(
                leaddctl, ["suppression", "add", "--tenant", "acme", "(11) 98888-0002", "--reason", "SAIR"],
                environment: env)
            #expect(added.status == 0, "\(added.err)")
            #expect(try daemon.allSent(1))
            usleep(500_000)
            #expect(daemon.sentRecords.map { $0["to"] } == ["+5511988880001"])
            let skipped = try daemon.call("lead.get", JSONObject(["campaign": "later", "key": "11 98888-0002"]))
            #expect(skipped["messages"]?.arrayValue?.first?["state"] == "cancelled")
            // A suppressed address is refused at import.
            let again = try daemon.call(
                "lead.import",
                try object(#"{"campaign": "later", "leads": [{"phone": "+55 11 98888-0002", "id": "other"}]}"#))
            #expect(again["rejected"]?.arrayValue?.first?["reason"]?.stringValue?.contains("suppressed") == true)
            let listed = try run(leaddctl, ["suppression", "list", "--tenant", "acme"], environment: env)
            #expect(listed.out.contains("+5511988880002"))
        }
    }
}
