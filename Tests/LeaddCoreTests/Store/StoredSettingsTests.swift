import Foundation
import TestSupport
import Testing

@testable import LeaddCore

/// Every setting the store keeps (tenants, campaigns, senders, suppressions) reads back after a
/// restart exactly as it was put, and a stored value that cannot be read is an error naming its
/// row, never a silent default.
@Suite struct StoredSettingsTests {
    let directory = temporaryDirectory()

    @Test(arguments: StoreEngine.all) func randomSettingsSurviveARestartUnchanged(engine: StoreEngine) async throws {
        var random = SeededGenerator(seed: 2026_12_07)
        var tenants: [Tenant] = []
        var campaigns: [Campaign] = []
        var senders: [Sender] = []
        var suppressions: [Suppression] = []
        let store = try engine.open(directory)
        for n in 0..<60 {
            tenants.append(try await store.putTenant(Self.tenant(n, &random), now: 1_000 + Int64(n)))
            campaigns.append(try await store.createCampaign(Self.campaign(n, &random), now: 2_000 + Int64(n)))
            senders.append(try await store.putSender(Self.sender(n, &random), now: 3_000 + Int64(n)))
            let address = "+55119\(String(format: "%08d", n))"
            let reason = Bool.random(using: &random) ? nil : "opt-out \(n) ✓"
            #expect(
                try await store.addSuppression(tenant: "t\(n)", address: address, reason: reason, now: 4_000 + Int64(n))
            )
            suppressions.append(
                Suppression(tenant: "t\(n)", address: address, reason: reason, createdAt: 4_000 + Int64(n)))
        }
        await store.close()

        let reopened = try engine.open(directory)
        for tenant in tenants {
            let read = try await reopened.tenant(id: tenant.id)
            #expect(read == tenant, "tenant \(tenant.id): rate \(String(describing: tenant.rate))")
        }
        for campaign in campaigns {
            let read = try await reopened.campaign(id: campaign.id)
            #expect(read == campaign, "campaign \(campaign.id)")
        }
        let readSenders = try await reopened.senders(after: "", limit: 1_000)
        #expect(readSenders.sorted { $0.id < $1.id } == senders.sorted { $0.id < $1.id })
        let readSuppressions = try await reopened.suppressions(tenant: nil, after: ("", ""), limit: 1_000)
        #expect(
            readSuppressions.sorted { ($0.tenant, $0.address) < ($1.tenant, $1.address) }
                == suppressions.sorted { ($0.tenant, $0.address) < ($1.tenant, $1.address) })
        await reopened.close()
    }

    @Test func anUnreadableStoredRateIsAnErrorNamingTheRow() async throws {
        let store = try SQLiteQueueStore(path: directory + "/leadd.db")
        var tenant = Tenant(id: "broken")
        tenant.rate = Rate(count: 30, per: .seconds(60))
        _ = try await store.putTenant(tenant, now: 1)
        await store.close()
        do {
            let db = try SQLiteConnection(path: directory + "/leadd.db")
            try db.execute("UPDATE tenants SET rate = '30 a minute' WHERE id = 'broken'")
        }
        let reopened = try SQLiteQueueStore(path: directory + "/leadd.db")
        await #expect {
            _ = try await reopened.tenant(id: "broken")
        } throws: { error in
            let text = "\(error)"
            return text.contains("tenants") && text.contains("broken") && text.contains("rate")
                && text.contains("30 a minute")
        }
        await reopened.close()
    }

    static func rate(_ random: inout SeededGenerator) -> Rate? {
        let units: [Duration] = [
            .seconds(1), .seconds(60), .seconds(3600), .seconds(86400), .seconds(10), .milliseconds(1500),
        ]
        guard Int.random(in: 0..<4, using: &random) > 0 else { return nil }
        return Rate(count: Int.random(in: 1...100_000, using: &random), per: units.randomElement(using: &random)!)
    }

    static func tenant(_ n: Int, _ random: inout SeededGenerator) -> Tenant {
        var t = Tenant(id: "t\(n)")
        t.name = Bool.random(using: &random) ? "Tenant \(n) — Ação" : nil
        t.country = ["BR", "US", nil].randomElement(using: &random)!
        t.timeZone = ["America/Sao_Paulo", "UTC", nil].randomElement(using: &random)!
        t.schedule = ["business", nil].randomElement(using: &random)!
        t.rate = rate(&random)
        t.burst = Bool.random(using: &random) ? Int.random(in: 1...10_000, using: &random) : nil
        t.weight = Bool.random(using: &random) ? Int.random(in: 1...100, using: &random) : nil
        t.senders = Bool.random(using: &random) ? ["wa-\(n)", "wa-x"] : nil
        t.optOutKeywords = Bool.random(using: &random) ? ["pt": ["SAIR", "PARAR"], "en": ["STOP"]] : nil
        return t
    }

    static func campaign(_ n: Int, _ random: inout SeededGenerator) -> Campaign {
        var steps = [
            CampaignStep(
                channel: "sms", template: MessageTemplate(text: "Oi {{name}} \(n)"),
                delay: Bool.random(using: &random) ? .seconds(Int64.random(in: 1...90_000, using: &random)) : nil)
        ]
        if Bool.random(using: &random) {
            steps.append(
                CampaignStep(
                    channel: "whatsapp",
                    template: MessageTemplate(
                        whatsapp: WhatsAppTemplate(name: "welcome", language: "pt_BR", params: ["{{name}}"])),
                    at: Bool.random(using: &random) ? 1_900_000_000_000 : nil, fallback: "sms"))
        }
        var c = Campaign(id: "c\(n)", tenant: "t\(n)", name: "Campaign \(n)", steps: steps)
        c.schedule = ["business", nil].randomElement(using: &random)!
        c.priority = Priority.allCases.randomElement(using: &random)!
        c.rate = rate(&random)
        c.startAt = Bool.random(using: &random) ? Int64.random(in: 0...2_000_000_000_000, using: &random) : nil
        c.unsubscribeURL = Bool.random(using: &random) ? "https://example.com/u/{{id}}" : nil
        return c
    }

    static func sender(_ n: Int, _ random: inout SeededGenerator) -> Sender {
        var s = Sender(id: "s\(n)", channel: ["sms", "whatsapp", "email"].randomElement(using: &random)!)
        s.settingsJSON = #"{"from":"+1500555\#(n)"}"#
        s.rate = rate(&random)
        s.burst = Bool.random(using: &random) ? Int.random(in: 1...500, using: &random) : nil
        s.concurrency = Int.random(in: 1...64, using: &random)
        s.origin = .stored
        return s
    }
}
