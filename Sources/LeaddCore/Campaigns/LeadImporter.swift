// Turns rows of a `lead.import` request into leads ready to store: each row checked (phone in
// E.164 with the tenant's country, e-mail, the address every step's channel needs, suppression,
// time zone, send time), its variables put into every step's templates, and its messages laid
// out in time with idempotency keys made of (campaign, lead, step), so that importing the same
// rows twice stores nothing twice. A row that fails any check is rejected with the field and
// the reason, and changes nothing.
import Foundation
import LeaddProtocol

public struct LeadRejection: Error, Sendable, Equatable {
    /// 1-based row number in the caller's file (or request).
    public var row: Int
    public var field: String
    public var reason: String

    public init(row: Int, field: String, reason: String) {
        self.row = row
        self.field = field
        self.reason = reason
    }
}

public struct LeadImporter {
    public let campaign: Campaign
    let templates: [StepTemplate]
    /// Which address each step's channel sends to.
    let addressKinds: [AddressKind]
    let tenant: TenantSettings
    let isSuppressed: (String) -> Bool
    let normalize: (String) -> Result<String, PhoneNumbers.Failure>
    /// Signs `{token}` in the campaign's unsubscribe URL (webhooks.unsubscribe_secret), so the
    /// link unsubscribes exactly the address it was sent to.
    public var unsubscribeSecret: String?

    public init(
        campaign: Campaign, tenant: TenantSettings, addressKinds: [AddressKind], templates: [StepTemplate]? = nil,
        isSuppressed: @escaping (String) -> Bool,
        normalize: ((String) -> Result<String, PhoneNumbers.Failure>)? = nil
    ) throws(TemplateError) {
        self.campaign = campaign
        self.tenant = tenant
        self.addressKinds = addressKinds
        self.isSuppressed = isSuppressed
        let region = tenant.country
        self.normalize = normalize ?? { PhoneNumbers.normalize($0, region: region) }
        if let templates {
            self.templates = templates
        } else {
            self.templates = try Self.compile(campaign)
        }
    }

    /// The campaign's step templates, compiled.
    public static func compile(_ campaign: Campaign) throws(TemplateError) -> [StepTemplate] {
        var templates: [StepTemplate] = []
        for (i, step) in campaign.steps.enumerated() {
            templates.append(try StepTemplate(step.template, field: "steps.\(i).template"))
        }
        return templates
    }

    static let fields: Set<String> = ["id", "phone", "email", "name", "vars", "send_at", "timezone"]

    /// A row as a stored lead with its messages, or why not.
    public func prepare(_ value: JSONValue, row: Int, now: Int64) -> Result<PreparedLead, LeadRejection> {
        func reject(_ field: String, _ reason: String) -> Result<PreparedLead, LeadRejection> {
            .failure(LeadRejection(row: row, field: field, reason: reason))
        }
        guard case .object(let o) = value else { return reject("", "a lead must be an object") }
        for (key, _) in o where !Self.fields.contains(key) {
            return reject(key, "unknown field (known: \(Self.fields.sorted().joined(separator: ", ")))")
        }
        func text(_ key: String) throws(LeadRejection) -> String? {
            switch o[key] {
            case nil, .null?: return nil
            case .string(let s)?:
                let trimmed = s.trimmingWhitespace()
                return trimmed.isEmpty ? nil : trimmed
            case .integer(let i)?: return String(i)
            case let other?:
                throw LeadRejection(row: row, field: key, reason: "must be a string, not \(other.typeName)")
            }
        }
        let id: String?
        let phoneText: String?
        let emailText: String?
        let name: String?
        let sendAtText: String?
        let zoneText: String?
        do {
            (id, phoneText, emailText) = (try text("id"), try text("phone"), try text("email"))
            (name, sendAtText, zoneText) = (try text("name"), try text("send_at"), try text("timezone"))
        } catch {
            return .failure(error)
        }

        var phone: String?
        if let phoneText {
            switch normalize(phoneText) {
            case .success(let e164): phone = e164
            case .failure(let failure): return reject("phone", "'\(phoneText)': \(failure)")
            }
        }
        var email: String?
        if let emailText {
            guard let value = LeadAddress.email(emailText) else {
                return reject("email", "'\(emailText)' is not an e-mail address")
            }
            email = value
        }
        var zone: TimeZone?
        if let zoneText {
            guard let z = TimeZone(identifier: zoneText) else {
                return reject("timezone", "'\(zoneText)' is not an IANA time zone (like America/Sao_Paulo)")
            }
            zone = z
        }
        var vars: [String: Any] = [:]
        var varsJSON: String?
        switch o["vars"] {
        case nil, .null?: break
        case .object(let v)?:
            for (key, value) in v {
                switch value {
                case .string(let s): vars[key] = s
                case .integer(let i): vars[key] = String(i)
                case .number(let d): vars[key] = String(d)
                case .bool(let b): vars[key] = b ? "true" : "false"
                default: return reject("vars.\(key)", "must be a string or a number, not \(value.typeName)")
                }
            }
            varsJSON = JSONValue.object(v).serialized
        case let other?: return reject("vars", "must be an object, not \(other.typeName)")
        }

        // Every step needs the address its channel sends to, and none may be suppressed.
        var addresses: [String] = []
        for (i, kind) in addressKinds.enumerated() {
            let address = kind == .email ? email : phone
            guard let address else {
                return reject(
                    kind == .email ? "email" : "phone",
                    "step \(i + 1) sends on channel \(campaign.steps[i].channel), which needs the lead's \(kind == .email ? "e-mail address" : "phone number")"
                )
            }
            if isSuppressed(address) { return reject(kind == .email ? "email" : "phone", "\(address) is suppressed") }
            addresses.append(address)
        }

        // The lead's start: its own send_at (an RFC 3339 time, or a wall-clock time in its zone,
        // else the tenant's), else the campaign's start, and never in the past.
        var start = max(campaign.startAt ?? now, now)
        if let sendAtText {
            let readZone = zone ?? tenant.timeZone ?? TimeZone(identifier: "UTC")!
            guard let t = Timestamp.parse(sendAtText) ?? Timestamp.parseLocal(sendAtText, in: readZone) else {
                return reject(
                    "send_at", "'\(sendAtText)' is not a time (like 2026-05-01T14:30:00Z, or 2026-05-01 09:00 local)")
            }
            start = t
        }

        var context: [String: Any] = vars
        context["vars"] = vars
        if let name { context["name"] = name }
        if let phone { context["phone"] = phone }
        if let email { context["email"] = email }
        guard let key = id ?? phone ?? email else { return reject("phone", "a lead needs a phone, an e-mail or an id") }

        var messages: [NewMessage] = []
        var due = start
        for (i, step) in campaign.steps.enumerated() {
            if let at = step.at { due = at } else if let delay = step.delay { due += delay.milliseconds }
            var rendered: String
            do {
                rendered = try templates[i].render(context)
            } catch {
                let variable = error.reason.split(separator: "'").dropFirst().first.map(String.init) ?? ""
                let field =
                    variable.isEmpty ? error.field : variable.hasPrefix("vars.") ? variable : "vars.\(variable)"
                return reject(field, "\(error.reason) (\(error.field))")
            }
            if let unsubscribe = campaign.unsubscribeURL, addressKinds[i] == .email,
                case .object(var content) = (try? JSONValue.parse(rendered)) ?? .null
            {
                var url = unsubscribe
                if let secret = unsubscribeSecret, url.contains("{token}") {
                    let token = UnsubscribeToken.make(tenant: campaign.tenant, address: addresses[i], secret: secret)
                    url = url.replacingOccurrences(of: "{token}", with: token)
                }
                content["unsubscribe_url"] = .string(url)
                rendered = JSONValue.object(content).serialized
            }
            var message = NewMessage(
                tenant: campaign.tenant, channel: step.channel, to: addresses[i], contentJSON: rendered, dueAt: due,
                priority: campaign.priority, idempotencyKey: "campaign:\(campaign.id):lead:\(key):step:\(i + 1)",
                timeZone: zone?.identifier)
            message.campaign = campaign.id
            message.step = i + 1
            messages.append(message)
        }
        return .success(
            PreparedLead(
                lead: Lead(
                    key: key, phone: phone, email: email, name: name, varsJSON: varsJSON, timeZone: zone?.identifier),
                messages: messages))
    }
}
