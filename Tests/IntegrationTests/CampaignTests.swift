import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    /// Tenants, campaigns, lead import and suppression through leaddctl and the socket.
    @Suite struct CampaignProcessTests {
        let leaddctl = productsDirectory + "/leaddctl"

        /// An `sms` channel and a `mail` channel that sends to the lead's e-mail, both on the test plugin.
        static let channels = channels()

        /// `sms`, with `smsTop` added to the channel and `smsSettings` to its settings, and `mail`.
        static func channels(smsTop: String = "", smsSettings: String = "") -> String {
            """
                  sms:
                    plugin: TestChannel
            \(smsTop.isEmpty ? "" : "        " + smsTop + "\n")        settings:
                      file: "@SENT@"
            \(smsSettings.isEmpty ? "" : "          " + smsSettings + "\n")      mail:
                    plugin: TestChannel
                    address: email
                    settings:
                      file: "@SENT@"
            """
        }

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
            // The reimport stored nothing: with nothing queued or in flight, nothing more can go out.
            #expect(try daemon.isIdle())
            #expect(try daemon.totals()["sent"] == 6)
            #expect(daemon.sentLines.count == 6)
            // The second import found the compiled templates and the read numbers in memory.
            let caches = try daemon.call("status")["caches"]
            #expect((caches?["templates"]?["hits"]?.int64Value ?? 0) >= 1)
            #expect((caches?["numbers"]?["hits"]?.int64Value ?? 0) >= 4)
            #expect(caches?["tenants"]?["entries"] == .integer(1))

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
            #expect(daemon.eventually(timeout: 10) { daemon.sentLines.count >= 10 })
            let paused = try daemon.call("campaign.pause", JSONObject(["id": "drip"]))
            let held = paused["paused"]?.int64Value ?? 0
            #expect(held > 0)
            // The sends already handed to the plugin finish; then nothing is queued or in flight, so
            // nothing more can go out while paused: every message is either sent or held.
            #expect(try daemon.eventually(timeout: 60) { try daemon.isIdle() })
            let counts = try daemon.totals()
            #expect(counts["paused"] == held, "\(counts)")
            #expect(counts["sent"] == 60 - held, "sends went on while paused: \(counts)")
            #expect(daemon.sentLines.count == 60 - Int(held), "sends went on while paused")
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

        /// Messages are claimed in the store a moment before they are due; a pause in that moment
        /// holds them with the rest of the campaign rather than letting them go.
        @Test func messagesClaimedJustBeforeTheirTimeArePausedWithTheirCampaign() throws {
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        batch_size: 10
                        concurrency: 1
                        settings:
                          file: "@SENT@"
                          delay_ms: 3000
                    """)
            try daemon.start()
            // The plugin is busy with this one for 3 s, so the campaign's messages wait once due.
            _ = try daemon.call("message.send", sendParams(key: "busy"))
            _ = try daemon.call(
                "campaign.create",
                try object(
                    #"{"tenant": "acme", "id": "soon", "name": "Soon", "steps": [{"channel": "sms", "template": {"text": "hi"}}]}"#
                ))
            let format = ISO8601DateFormatter()
            format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let due = format.string(from: Date().addingTimeInterval(0.8))
            let leads: [JSONValue] = (0..<5).map {
                .object(JSONObject(["phone": .string("+55119\(String(70_000_000 + $0))"), "send_at": .string(due)]))
            }
            _ = try daemon.call("lead.import", JSONObject(["campaign": "soon", "leads": .array(leads)]))
            // Claimed ahead: in flight in the store, though not handed to the plugin.
            #expect(
                try daemon.eventually(timeout: 5) { try daemon.call("queue.stats")["total"]?["inflight"] == 6 })
            let paused = try daemon.call("campaign.pause", JSONObject(["id": "soon"]))
            #expect(paused["paused"] == 5, "\(paused)")
            #expect(try daemon.call("queue.stats")["total"]?["inflight"] == 1)
            // Another message, handed to the plugin once it is free, when the paused ones are long
            // due. The dispatcher takes every due message it may send, up to the batch size (10),
            // in one pick: a paused message still held in memory and let go would have left with
            // this one or before it.
            _ = try daemon.call("message.send", sendParams(key: "probe"))
            #expect(try daemon.allSent(2, timeout: 60))
            #expect(try daemon.eventually(timeout: 60) { try daemon.isIdle() })
            #expect(Set(daemon.sentRecords.compactMap { $0["key"]?.stringValue }) == ["busy", "probe"])
            #expect(try daemon.totals()["paused"] == 5)
            _ = try daemon.call("campaign.resume", JSONObject(["id": "soon"]))
            #expect(try daemon.allSent(7, timeout: 30))
            #expect(Set(daemon.sentRecords.compactMap { $0["key"]?.stringValue }).count == 7)
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
            // Both are due at the same time; the suppressed one is cancelled when it is taken to
            // be sent, and a cancelled message never goes out.
            #expect(
                try daemon.eventually(timeout: 60) {
                    let skipped = try daemon.call(
                        "lead.get", JSONObject(["campaign": "later", "key": "11 98888-0002"]))
                    return skipped["messages"]?.arrayValue?.first?["state"] == "cancelled"
                })
            #expect(try daemon.isIdle())
            #expect(daemon.sentRecords.map { $0["to"] } == ["+5511988880001"])
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

extension Integration {
    /// The scenario leadd is built for: a thousand tenants, each with its own window and zone,
    /// a hundred leads each, imported in one `leaddctl import`.
    @Suite struct SeedScenarioTests {
        static let zones = ["America/Sao_Paulo", "Europe/Lisbon", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
        static let schedules = ["business", "evening", "weekend"]

        @Test func aThousandTenantsTimesAHundredLeadsAreStoredOnceAtTheirLocalTimes() throws {
            let daemon = try DaemonProcess()
            try daemon.writeConfig(
                try String(contentsOfFile: daemon.configPath, encoding: .utf8) + """

                    store:
                      synchronous: normal
                    schedules:
                      business: {timezone: America/Sao_Paulo, days: [mon-fri], hours: "09:00-18:00"}
                      evening: {timezone: UTC, hours: "18:00-21:00"}
                      weekend: {timezone: UTC, days: [sat, sun], hours: "10:00-14:00"}
                    """)
            try daemon.start()
            let tenants = 1_000
            let leadsEach = 100
            let client = try daemon.client()
            func batch(_ method: String, _ params: [JSONObject]) throws {
                let requests = params.enumerated().map { ControlClient.request(method, $1, id: Int64($0)) }
                try client.writeLine(JSONValue.array(requests).serialized)
                let answers = try client.readResponse().arrayValue ?? []
                #expect(answers.count == params.count)
                #expect(answers.allSatisfy { $0["result"] != nil }, "\(answers.first { $0["error"] != nil } ?? .null)")
            }
            try batch(
                "tenant.put",
                (0..<tenants).map { t in
                    JSONObject([
                        "id": .string(String(format: "t%04d", t)), "country": "BR",
                        "timezone": .string(Self.zones[t % Self.zones.count]),
                        "schedule": .string(Self.schedules[t % Self.schedules.count]),
                    ])
                })
            let step = try JSONValue.parse(#"[{"channel": "sms", "template": {"text": "Olá {{name}}"}}]"#)
            try batch(
                "campaign.create",
                (0..<tenants).map { t in
                    JSONObject([
                        "tenant": .string(String(format: "t%04d", t)), "id": .string(String(format: "c%04d", t)),
                        "name": "seed", "steps": step,
                    ])
                })
            // Every lead at 09:00 on Monday 2030-01-07 on its tenant's clock.
            var csv = "campaign,phone,name,send_at\n"
            csv.reserveCapacity(tenants * leadsEach * 48)
            for t in 0..<tenants {
                for l in 0..<leadsEach {
                    let n = t * leadsEach + l
                    csv += String(
                        format: "c%04d,(11) 9%04d-%04d,Lead %d,2030-01-07 09:00\n", t, n / 10_000, n % 10_000, n)
                }
            }
            let file = daemon.directory + "/seed.csv"
            try csv.write(toFile: file, atomically: true, encoding: .utf8)
            let env = ["LEADD_SOCKET": daemon.socketPath]
            let imported = try run(productsDirectory + "/leaddctl", ["import", file], environment: env)
            #expect(imported.status == 0, "\(imported.err)")
            #expect(
                imported.out.contains("100000 rows: 100000 accepted (100000 messages), 0 rejected"), "\(imported.out)")
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == .integer(100_000))

            var calendar = Calendar(identifier: .gregorian)
            for t in stride(from: 0, to: tenants, by: 97) {
                let zone = TimeZone(identifier: Self.zones[t % Self.zones.count])!
                calendar.timeZone = zone
                let expected = calendar.date(from: DateComponents(year: 2030, month: 1, day: 7, hour: 9))!
                let n = t * leadsEach + 42
                let lead = try daemon.call(
                    "lead.get",
                    JSONObject([
                        "campaign": .string(String(format: "c%04d", t)),
                        "key": .string(String(format: "+55119%04d%04d", n / 10_000, n % 10_000)),
                    ]))
                let due = lead["messages"]?.arrayValue?.first?["due_at"]?.stringValue ?? ""
                #expect(
                    due == expected.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
                    "tenant \(t) in \(zone.identifier)")
            }

            let again = try run(productsDirectory + "/leaddctl", ["import", file], environment: env)
            #expect(again.status == 1)
            #expect(again.out.contains("100000 rows: 0 accepted (0 messages), 100000 rejected"), "\(again.out)")
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == .integer(100_000))
        }
    }
}

extension Integration.CampaignProcessTests {
    @Test func aPermanentFailureFallsBackOnce() throws {
        let daemon = try DaemonProcess(
            channels: Self.channels(smsSettings: #"fail_matching: "+5511900000001""#))
        try daemon.start()
        _ = try daemon.call(
            "campaign.create",
            try object(
                #"{"tenant": "acme", "id": "fb", "name": "Fallback", "steps": [{"channel": "sms", "fallback": "mail", "template": {"text": "Oi {{name}}"}}]}"#
            ))
        let result = try daemon.call(
            "lead.import",
            try object(
                #"{"campaign": "fb", "leads": [{"phone": "+5511900000001", "email": "zed@example.com", "name": "Zed"}, {"phone": "+5511900000002", "email": "yan@example.com", "name": "Yan"}]}"#
            ))
        #expect(result["accepted"] == .integer(2))
        // Yan by SMS; Zed's SMS refused for good, then by e-mail, once.
        #expect(try daemon.allSent(2))
        // Once nothing is queued or in flight, no second fallback (nor a resent SMS) can follow.
        #expect(try daemon.eventually(timeout: 60) { try daemon.isIdle() })
        #expect(try daemon.totals()["sent"] == 2)
        let sent = daemon.sentRecords.map { $0["to"]?.stringValue ?? "" }.sorted()
        #expect(sent == ["+5511900000002", "zed@example.com"])
        let zed = try daemon.call("lead.get", JSONObject(["campaign": "fb", "key": "+5511900000001"]))
        let states = zed["messages"]?.arrayValue?.map {
            "\($0["channel"]?.stringValue ?? ""):\($0["state"]?.stringValue ?? "")"
        }
        #expect(states == ["sms:failed", "mail:sent"])
    }
}

extension Integration.CampaignProcessTests {
    @Test func aLongOutageReroutesToTheFallback() throws {
        let daemon = try DaemonProcess(
            channels: Self.channels(
                smsTop: "breaker: {minimum_calls: 1, failure_rate: 0.5, open_for: 30s, fallback_after: 1s}",
                smsSettings: #"unavailable_while: "@SENT@.down""#))
        _ = FileManager.default.createFile(atPath: daemon.sentPath + ".down", contents: Data())
        try daemon.start()
        _ = try daemon.call(
            "campaign.create",
            try object(
                #"{"tenant": "acme", "id": "fb", "name": "Fallback", "steps": [{"channel": "sms", "fallback": "mail", "template": {"text": "Oi {{name}}"}}]}"#
            ))
        // A message outside any campaign trips the breaker, and must keep waiting for the channel.
        _ = try daemon.call("message.send", sendParams(key: "plain"))
        #expect(
            daemon.eventually(timeout: 10) { (try? daemon.call("breaker.list"))?.serialized.contains("open") == true })
        _ = try daemon.call(
            "lead.import",
            try object(
                #"{"campaign": "fb", "leads": [{"phone": "+5511900000003", "email": "xu@example.com", "name": "Xu"}]}"#)
        )
        #expect(try daemon.allSent(1))
        #expect(daemon.sentRecords.map { $0["to"] } == ["xu@example.com"])
        let xu = try daemon.call("lead.get", JSONObject(["campaign": "fb", "key": "+5511900000003"]))
        let states = xu["messages"]?.arrayValue?.map {
            "\($0["channel"]?.stringValue ?? ""):\($0["state"]?.stringValue ?? "")"
        }
        #expect(states == ["sms:cancelled", "mail:sent"])
        #expect(try daemon.call("queue.stats")["channels"]?["sms"]?["scheduled"] == .integer(1))
    }
}

extension Integration.CampaignProcessTests {
    @Test func jsonLinesFromStdinWithDryRunStoreNothing() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.call(
            "campaign.create",
            try object(
                #"{"tenant": "acme", "id": "jl", "name": "JSON Lines", "steps": [{"channel": "sms", "template": {"text": "Oi {{name}} {{vars.city}}"}}]}"#
            ))
        let file = try write(
            """
            {"phone": "+55 11 97000-0001", "name": "Ana", "vars": {"city": "Recife"}}
            {"phone": "+55 11 97000-0002", "name": "Bia"}

            {"phone": "+55 11 97000-0003", "name": "Caio", "vars": {"city": "Natal"}, "campaign": "jl"}
            """, to: "leads.jsonl", in: daemon)
        let command = "\(leaddctl) import - --format jsonl --campaign jl --json --dry-run < \(file)"
        let dry = try run("/bin/sh", ["-c", command], environment: ["LEADD_SOCKET": daemon.socketPath])
        let summary = try JSONValue.parse(dry.out.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(summary["rows"] == .integer(3))
        #expect(summary["accepted"] == .integer(2))
        #expect(summary["dry_run"] == .bool(true))
        let rejected = summary["rejected"]?.arrayValue?.first
        #expect(rejected?["row"] == .integer(2))
        #expect(rejected?["field"] == "vars.city")
        #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == .integer(0))
        // Without --dry-run the same rows are stored.
        let real = try run(
            "/bin/sh", ["-c", command.replacingOccurrences(of: " --dry-run", with: "")],
            environment: ["LEADD_SOCKET": daemon.socketPath])
        #expect(real.status == 1)
        #expect(try daemon.allSent(2))
    }
}
