import Foundation
import TestSupport
import Testing

@testable import LeaddCore

@Suite struct ConfigDecoderTests {
    func decode(_ yaml: String) throws(ConfigError) -> LeaddConfig {
        try ConfigDecoder.decode(yaml, file: "test.yaml")
    }

    func error(_ yaml: String) -> ConfigError? {
        do {
            _ = try decode(yaml)
            return nil
        } catch {
            return error
        }
    }

    @Test func theExampleConfigLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let config = try ConfigDecoder.load(path: root.path + "/etc/leadd.yaml")
        #expect(config.daemon.socketPath == "/run/leadd/control.sock")
        #expect(config.daemon.socketMode == 0o660)
        #expect(config.channels.map(\.name) == ["demo", "sms", "whatsapp", "email"])
        #expect(config.channels[0].rate == Rate(count: 100, per: .seconds(1)))
        #expect(config.channels[0].retry.initial == .seconds(30))
        #expect(config.tenants.defaults.rate == Rate(count: 1000, per: .seconds(60)))
    }

    @Test func anEmptyFileMeansDefaults() throws {
        #expect(try decode("") == LeaddConfig())
    }

    @Test func settingsBecomeJSONWithYAMLTypes() throws {
        let config = try decode(
            """
            channels:
              sms:
                plugin: TestChannel
                settings:
                  file: /tmp/x
                  fail_every: 3
                  quoted: "3"
                  on: true
                  list: [1, two]
            """)
        #expect(
            config.channels[0].settingsJSON
                == #"{"file":"/tmp/x","fail_every":3,"quoted":"3","on":true,"list":[1,"two"]}"#)
    }

    @Test func aPostgresStoreIsReadAndItsMistakesNamed() throws {
        let config = try decode(
            """
            store:
              kind: postgres
              url: postgresql://leadd@db.internal:5432/leadd
              node: web-1
              pool: 8
              lease: 30s
            """)
        #expect(config.store.kind == .postgres)
        #expect(config.store.url == "postgresql://leadd@db.internal:5432/leadd")
        #expect(config.store.node == "web-1")
        #expect(config.store.pool == 8)
        #expect(config.store.lease == .seconds(30))
        #expect(try decode("store: {}\n").store.kind == .sqlite)

        let noURL = error("store:\n  kind: postgres\n")
        #expect(noURL?.key == "store")
        #expect(noURL?.reason.contains("needs a url") == true)
        let wrongScheme = error("store:\n  kind: postgres\n  url: mysql://x/y\n")
        #expect(wrongScheme?.key == "store.url")
        #expect(wrongScheme?.line == 3)
        let forSQLite = error("store:\n  url: postgresql://x/y\n  node: a\n")
        #expect(forSQLite?.reason.contains("url, node applies to kind postgres only") == true)
        let badNode = error("store:\n  kind: postgres\n  url: postgresql://x/y\n  node: 'two words'\n")
        #expect(badNode?.key == "store.node")
        let shortLease = error("store:\n  kind: postgres\n  url: postgresql://x/y\n  lease: 100ms\n")
        #expect(shortLease?.reason.contains("at least 1s") == true)
        let kind = error("store:\n  kind: mysql\n")
        #expect(kind?.key == "store.kind")
    }

    @Test func unknownKeysAreErrorsWithLineAndColumn() {
        let e = error(
            """
            daemon:
              state_dir: /tmp
              sockett: /tmp/x.sock
            """)
        #expect(e?.line == 3)
        #expect(e?.column == 3)
        #expect(e?.key == "daemon.sockett")
        #expect(e?.description.hasPrefix("test.yaml:3:3: daemon.sockett: unknown key 'sockett'") == true)
    }

    @Test func badValuesNameTheKeyAndPlace() {
        let rate = error(
            """
            channels:
              sms:
                plugin: X
                rate: fast
            """)
        #expect(rate?.line == 4)
        #expect(rate?.column == 11)
        #expect(rate?.key == "channels.sms.rate")
        #expect(rate?.reason.contains("not a rate") == true)

        let duration = error("daemon:\n  shutdown_grace: soon\n")
        #expect(duration?.line == 2)
        #expect(duration?.key == "daemon.shutdown_grace")

        let type = error("store:\n  max_batch: [1]\n")
        #expect(type?.line == 2)
        #expect(type?.reason.contains("whole number") == true)

        let range = error("store:\n  max_batch: 0\n")
        #expect(range?.reason.contains("out of range") == true)

        let choice = error("store:\n  synchronous: sometimes\n")
        #expect(choice?.reason.contains("full, normal") == true)

        let mode = error("daemon:\n  socket_mode: \"0999\"\n")
        #expect(mode?.reason.contains("octal") == true)
    }

    @Test func aChannelNeedsAPlugin() {
        let e = error("channels:\n  sms:\n    batch_size: 10\n")
        #expect(e?.key == "channels.sms")
        #expect(e?.reason.contains("plugin") == true)
        #expect(e?.line == 3)
    }

    @Test func badChannelNamesAreRefused() {
        #expect(error("channels:\n  SMS!:\n    plugin: X\n")?.reason.contains("channel name") == true)
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        let e = error("daemon:\n  state_dir: [unclosed\n")
        #expect(e?.line != nil)
        #expect(e?.reason.hasPrefix("YAML syntax") == true)
    }

    /// An unclosed bracket is reported where it was opened, not where the parser gave up.
    @Test func aSyntaxErrorPointsAtTheConstructThatIsNotClosed() {
        let yaml =
            "daemon:\n  state_dir: /tmp/x\nchannels:\n  sms:\n    plugin: TestChannel\n    hours: [09:00, 10:00\n  email:\n    plugin: TestChannel\n"
        let e = error(yaml)
        #expect(e?.line == 6, "\(String(describing: e))")
        #expect(e?.column == 12, "\(String(describing: e))")
        // Where the parser noticed is still said, for the rare case it is the better hint.
        #expect(e?.reason.contains("7:") == true, "\(String(describing: e))")
    }

    @Test func duplicateKeysAreErrors() {
        let e = error("channels:\n  sms:\n    plugin: A\n  sms:\n    plugin: B\n")
        #expect(e?.reason.contains("duplicate") == true)
    }

    @Test func aMissingFileIsAClearError() {
        #expect {
            _ = try ConfigDecoder.load(path: "/nonexistent/leadd.yaml")
        } throws: { error in
            (error as? ConfigError)?.description.hasPrefix("/nonexistent/leadd.yaml: cannot read the file") == true
        }
    }

    /// A rate prints as users write it, and whatever it prints reads back as the same rate.
    @Test func ratesPrintAsWrittenAndReadBack() {
        #expect(Rate(count: 30, per: .seconds(60)).description == "30/min")
        #expect(Rate(count: 100, per: .seconds(1)).description == "100/s")
        #expect(Rate(count: 5, per: .seconds(3600)).description == "5/h")
        #expect(Rate(count: 2, per: .seconds(86400)).description == "2/day")
        #expect(Rate(count: 5, per: .seconds(10)).description == "5/10s")
        // What earlier versions stored reads back too.
        #expect(Rate.parse("30/1min") == Rate(count: 30, per: .seconds(60)))
        #expect(DurationText.parse("2min") == .seconds(120))
        var random = SeededGenerator(seed: 21)
        for _ in 0..<2_000 {
            let per: Duration =
                switch Int.random(in: 0..<3, using: &random) {
                case 0: .milliseconds(Int64.random(in: 1...10_000_000, using: &random))
                case 1: .seconds(Int64.random(in: 1...200_000, using: &random))
                default: .seconds(60 * Int64.random(in: 1...3_000, using: &random))
                }
            let rate = Rate(count: Int.random(in: 1...1_000_000, using: &random), per: per)
            #expect(Rate.parse(rate.description) == rate, "\(rate.description)")
            #expect(DurationText.parse(DurationText.format(per)) == per, "\(DurationText.format(per))")
        }
    }

    @Test func ratesAndDurationsParse() {
        #expect(Rate.parse("100/s") == Rate(count: 100, per: .seconds(1)))
        #expect(Rate.parse("1000/min") == Rate(count: 1000, per: .seconds(60)))
        #expect(Rate.parse("5/10s") == Rate(count: 5, per: .seconds(10)))
        #expect(Rate.parse("0/s") == nil)
        #expect(Rate.parse("10") == nil)
        #expect(DurationText.parse("1m30s") == .seconds(90))
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.parse("5") == nil)
        #expect(DurationText.parse("5x") == nil)
    }

    @Test func sendersAreDeclaredUnderTheirChannelAndNamedByTenants() throws {
        let config = try decode(
            """
            channels:
              whatsapp:
                plugin: WhatsApp
                settings: {phone_number_id: "100", access_token: {env: WA}}
                senders:
                  acme-wa:
                    settings: {phone_number_id: "200", access_token: {file: /etc/leadd/acme}}
                    rate: 80/s
                    concurrency: 2
                  beta-wa:
                    rate: 50/min
            tenants:
              defaults:
                senders: [beta-wa]
              overrides:
                acme:
                  senders: [acme-wa]
                  optout_keywords: {pt: [NAO QUERO]}
            """)
        let senders = config.channels[0].senders
        #expect(senders.map(\.id) == ["acme-wa", "beta-wa"])
        #expect(senders[0].rate == Rate(count: 80, per: .seconds(1)))
        #expect(senders[0].concurrency == 2)
        #expect(senders[1].settingsJSON == "{}")
        #expect(config.sender(id: "beta-wa")?.channel == "whatsapp")
        #expect(config.tenants.settings(for: "acme").senders == ["acme-wa"])
        #expect(config.tenants.settings(for: "other").senders == ["beta-wa"])
        #expect(config.tenants.settings(for: "acme").optOutKeywords == ["pt": ["NAO QUERO"]])
        let merged = try senders[0].settings(over: config.channels[0].settingsJSON)
        #expect(merged == #"{"phone_number_id":"200","access_token":{"file":"/etc/leadd/acme"}}"#)
    }

    @Test func sendersAreCheckedWhereTheyAreWritten() {
        let unknown = error(
            """
            channels:
              sms: {plugin: SMS, senders: {a: {rate: 1/s}}}
            tenants:
              overrides:
                acme: {senders: [b]}
            """)
        #expect(unknown?.key == "tenants.overrides.acme.senders.0")
        #expect(unknown?.reason.contains("no sender 'b'") == true)
        let twice = error(
            """
            channels:
              sms: {plugin: SMS, senders: {a: {rate: 1/s}}}
              email: {plugin: Email, senders: {a: {}}}
            """)
        #expect(twice?.reason.contains("sender 'a' is declared twice (under sms and email)") == true)
        let badID = error("channels:\n  sms: {plugin: SMS, senders: {'a b': {}}}\n")
        #expect(badID?.reason.contains("sender id 'a b'") == true)
        let badKey = error("channels:\n  sms: {plugin: SMS, senders: {a: {token: x}}}\n")
        #expect(badKey?.key == "channels.sms.senders.a.token")
    }
}

@Suite struct ScheduleConfigTests {
    func error(_ yaml: String) -> ConfigError? {
        do {
            _ = try ConfigDecoder.decode(yaml, file: "t.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func schedulesDecodeAndTenantsPointAtThem() throws {
        let config = try ConfigDecoder.decode(
            """
            schedules:
              business:
                timezone: America/Sao_Paulo
                days: [mon, tue, wed, thu, fri]
                hours: ["09:00-12:00", "14:00-18:00"]
            tenants:
              defaults:
                schedule: business
            """, file: "t.yaml")
        let w = try #require(config.window(forTenant: "acme"))
        #expect(w.days == [2, 3, 4, 5, 6])
        #expect(w.ranges.count == 2)
        #expect(w.timeZone.identifier == "America/Sao_Paulo")
    }

    @Test func badSchedulesNameTheKeyAndPlace() {
        let zone = error("schedules:\n  s:\n    timezone: Mars/Olympus\n    hours: 09:00-18:00\n")
        #expect(zone?.key == "schedules.s.timezone")
        #expect(zone?.line == 3)
        let hours = error("schedules:\n  s:\n    timezone: UTC\n    hours: 18:00-09:00\n")
        #expect(hours?.reason.contains("time range") == true)
        let day = error("schedules:\n  s:\n    timezone: UTC\n    days: [funday]\n    hours: 09:00-10:00\n")
        #expect(day?.key == "schedules.s.days.0")
        let missing = error("tenants:\n  defaults:\n    schedule: nope\n")
        #expect(missing?.key == "tenants.defaults.schedule")
        #expect(missing?.reason.contains("no schedule 'nope'") == true)
    }

    @Test func cacheSettingsDecodeAndAreBounded() throws {
        let config = try ConfigDecoder.decode("cache:\n  ttl: 90s\n  max_entries: 5000\n", file: "t.yaml")
        #expect(config.cache.ttl == .seconds(90))
        #expect(config.cache.maxEntries == 5000)
        #expect(error("cache:\n  max_entries: 1\n")?.key == "cache.max_entries")
    }

    @Test func tenantOverridesStartFromTheDefaults() throws {
        let config = try ConfigDecoder.decode(
            """
            schedules:
              business: {timezone: America/Sao_Paulo, days: [mon-fri], hours: "09:00-18:00"}
            tenants:
              defaults: {rate: 1000/min, weight: 2, schedule: business}
              overrides:
                acme: {weight: 5, timezone: Europe/Lisbon}
                night: {rate: 10/s, burst: 3}
                free: {rate: unlimited}
            """, file: "t.yaml")
        let acme = config.tenants.settings(for: "acme")
        #expect(acme.weight == 5)
        #expect(acme.rate == Rate(count: 1000, per: .seconds(60)))
        #expect(acme.timeZone?.identifier == "Europe/Lisbon")
        #expect(config.window(forTenant: "acme")?.timeZone.identifier == "Europe/Lisbon")
        #expect(config.window(forTenant: "other")?.timeZone.identifier == "America/Sao_Paulo")
        // The lead's own zone wins over the tenant's.
        #expect(
            config.window(forTenant: "acme", timeZone: TimeZone(identifier: "Asia/Tokyo"))?.timeZone.identifier
                == "Asia/Tokyo")
        #expect(config.tenants.settings(for: "night").burst == 3)
        #expect(config.tenants.settings(for: "free").rate == nil)
        #expect(config.tenants.settings(for: "unknown").weight == 2)
        let bad = error("tenants:\n  overrides:\n    acme:\n      timezone: Mars/Base\n")
        #expect(bad?.key == "tenants.overrides.acme.timezone")
        #expect(bad?.line == 4)
        let unknown = error("tenants:\n  overrides:\n    acme:\n      speed: 3\n")
        #expect(unknown?.reason.contains("speed") == true)
    }
}
