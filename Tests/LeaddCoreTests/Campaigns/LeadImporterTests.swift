import Foundation
import LeaddProtocol
import Testing

@testable import LeaddCore

@Suite struct LeadImporterTests {
    let now: Int64 = 1_767_600_000_000  // 2026-01-05T08:00:00Z

    func campaign() -> Campaign {
        var c = Campaign(
            id: "welcome", tenant: "acme", name: "Welcome",
            steps: [
                CampaignStep(channel: "sms", template: MessageTemplate(text: "Oi {{name}}, seu código é {{code}}")),
                CampaignStep(
                    channel: "mail",
                    template: MessageTemplate(
                        text: "Hello {{name}}", subject: "For {{vars.code}}", html: "<b>{{name}}</b>"),
                    delay: .seconds(3600)),
            ])
        c.unsubscribeURL = "https://example.com/u"
        return c
    }

    func importer(suppressed: Set<String> = []) throws -> LeadImporter {
        var tenant = TenantSettings()
        tenant.country = "BR"
        tenant.timeZone = TimeZone(identifier: "America/Sao_Paulo")
        return try LeadImporter(
            campaign: campaign(), tenant: tenant, addressKinds: [.phone, .email],
            isSuppressed: { suppressed.contains($0) })
    }

    func lead(_ json: String) throws -> JSONValue { try JSONValue.parse(json) }

    @Test func aLeadBecomesOneMessagePerStepWithKeysAndTimes() throws {
        let result = try importer().prepare(
            lead(
                #"{"phone": "(11) 98765-4321", "email": "Ana@Example.com", "name": "Ana <A>", "vars": {"code": 42}, "send_at": "2026-01-06 09:00"}"#
            ), row: 7, now: now)
        let prepared = try result.get()
        #expect(prepared.key == "+5511987654321")
        #expect(prepared.messages.count == 2)
        let sms = prepared.messages[0]
        let mail = prepared.messages[1]
        #expect(sms.to == "+5511987654321")
        #expect(mail.to == "ana@example.com")
        // 09:00 in São Paulo is 12:00 UTC; the second step an hour later.
        #expect(sms.dueAt == Timestamp.parse("2026-01-06T12:00:00Z"))
        #expect(mail.dueAt == Timestamp.parse("2026-01-06T13:00:00Z"))
        #expect(sms.idempotencyKey == "campaign:welcome:lead:+5511987654321:step:1")
        #expect(mail.campaign == "welcome")
        #expect(mail.step == 2)
        let smsContent = try JSONValue.parse(sms.contentJSON)
        // Text is not HTML-escaped; the HTML body is.
        #expect(smsContent["text"] == "Oi Ana <A>, seu código é 42")
        let mailContent = try JSONValue.parse(mail.contentJSON)
        #expect(mailContent["subject"] == "For 42")
        #expect(mailContent["html"] == "<b>Ana &lt;A&gt;</b>")
        #expect(mailContent["unsubscribe_url"] == "https://example.com/u")
        #expect(smsContent["unsubscribe_url"] == nil)
    }

    @Test func rejectionsNameTheRowFieldAndReason() throws {
        let i = try importer(suppressed: ["+5511912345678"])
        func rejection(_ json: String) throws -> LeadRejection? {
            if case .failure(let r) = i.prepare(try lead(json), row: 3, now: now) { return r }
            return nil
        }
        let badPhone = try rejection(#"{"phone": "12345", "email": "a@b.co", "name": "A", "vars": {"code": "1"}}"#)
        #expect(badPhone?.field == "phone")
        #expect(badPhone?.row == 3)
        let noEmail = try rejection(#"{"phone": "11987654321", "name": "A", "vars": {"code": "1"}}"#)
        #expect(noEmail?.field == "email")
        #expect(noEmail?.reason.contains("channel mail") == true)
        let suppressed = try rejection(
            #"{"phone": "11 91234-5678", "email": "a@b.co", "name": "A", "vars": {"code": "1"}}"#)
        #expect(suppressed?.reason.contains("suppressed") == true)
        let missing = try rejection(#"{"phone": "11987654321", "email": "a@b.co", "name": "A"}"#)
        #expect(missing?.field == "vars.code")
        let zone = try rejection(
            #"{"phone": "11987654321", "email": "a@b.co", "name": "A", "vars": {"code": "1"}, "timezone": "Mars/Base"}"#
        )
        #expect(zone?.field == "timezone")
        let unknown = try rejection(#"{"phone": "11987654321", "fax": "1"}"#)
        #expect(unknown?.field == "fax")
        let when = try rejection(
            #"{"phone": "11987654321", "email": "a@b.co", "name": "A", "vars": {"code": "1"}, "send_at": "soon"}"#)
        #expect(when?.field == "send_at")
    }

    @Test func theLeadsOwnZoneReadsItsSendTimeAndTravelsWithItsMessages() throws {
        let prepared = try importer().prepare(
            lead(
                #"{"phone": "+351 912 345 678", "email": "a@b.pt", "name": "A", "vars": {"code": "1"}, "send_at": "2026-07-01 09:00", "timezone": "Europe/Lisbon"}"#
            ), row: 1, now: now
        ).get()
        #expect(prepared.messages[0].dueAt == Timestamp.parse("2026-07-01T08:00:00Z"))
        #expect(prepared.messages[0].timeZone == "Europe/Lisbon")
    }

    @Test func templateVariablesOutsideSectionsAreFound() {
        #expect(
            StepTemplate.variables(in: "Hi {{name}}, {{{raw}}} {{& amp }} {{#vip}}{{perk}}{{/vip}} {{! note}}") == [
                "name", "raw", "amp",
            ])
    }

    @Test func aBrokenTemplateNamesItsField() {
        #expect(throws: TemplateError.self) {
            try StepTemplate(MessageTemplate(text: "Hi {{#open}}"), field: "steps.0.template")
        }
    }
}
