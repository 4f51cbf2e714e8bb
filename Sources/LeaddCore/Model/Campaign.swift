// A campaign: a tenant's sequence of steps, each a message on a channel some time after the
// previous one, for every lead imported into it. Stored as its spec (JSON) beside a few columns.
import LeaddProtocol

public enum CampaignState: String, Sendable, CaseIterable {
    case active, paused, cancelled
}

/// A WhatsApp template message: the template approved at Meta, its language, and body parameters.
public struct WhatsAppTemplate: Sendable, Equatable {
    public var name: String
    public var language: String
    public var params: [String]

    public init(name: String, language: String, params: [String] = []) {
        self.name = name
        self.language = language
        self.params = params
    }
}

/// A step's content, as Mustache templates over the lead's fields and variables.
public struct MessageTemplate: Sendable, Equatable {
    public var text: String?
    public var subject: String?
    public var html: String?
    public var whatsapp: WhatsAppTemplate?

    public init(text: String? = nil, subject: String? = nil, html: String? = nil, whatsapp: WhatsAppTemplate? = nil) {
        self.text = text
        self.subject = subject
        self.html = html
        self.whatsapp = whatsapp
    }
}

public struct CampaignStep: Sendable, Equatable {
    public var channel: String
    public var template: MessageTemplate
    /// Wait after the previous step's due time (after the lead's start for the first step).
    public var delay: Duration?
    /// An absolute time instead of a delay.
    public var at: Int64?
    /// The channel a permanently failed message of this step is sent again on, once.
    public var fallback: String?

    public init(
        channel: String, template: MessageTemplate, delay: Duration? = nil, at: Int64? = nil, fallback: String? = nil
    ) {
        self.channel = channel
        self.template = template
        self.delay = delay
        self.at = at
        self.fallback = fallback
    }
}

public struct Campaign: Sendable, Equatable {
    public var id: String
    public var tenant: String
    public var name: String
    public var steps: [CampaignStep]
    /// A named window from the config that replaces the tenant's for this campaign.
    public var schedule: String?
    public var priority: Priority = .normal
    public var rate: Rate?
    public var startAt: Int64?
    public var unsubscribeURL: String?
    public var state: CampaignState = .active
    public var createdAt: Int64 = 0

    public init(id: String, tenant: String, name: String, steps: [CampaignStep]) {
        self.id = id
        self.tenant = tenant
        self.name = name
        self.steps = steps
    }

    /// Everything but the columns (id, tenant, name, state, created_at), as stored.
    public var specJSON: String {
        var spec = JSONObject()
        spec["steps"] = .array(steps.map(Self.stepJSON))
        spec["schedule"] = schedule.map { .string($0) }
        spec["priority"] = .string(priority.description)
        spec["rate"] = rate.map { .string($0.description) }
        spec["start_at"] = startAt.map { .integer($0) }
        spec["unsubscribe_url"] = unsubscribeURL.map { .string($0) }
        return JSONValue.object(spec).serialized
    }

    static func stepJSON(_ step: CampaignStep) -> JSONValue {
        var template = JSONObject()
        template["text"] = step.template.text.map { .string($0) }
        template["subject"] = step.template.subject.map { .string($0) }
        template["html"] = step.template.html.map { .string($0) }
        if let w = step.template.whatsapp {
            template["whatsapp"] = .object(
                JSONObject([
                    "name": .string(w.name), "language": .string(w.language),
                    "params": .array(w.params.map { .string($0) }),
                ]))
        }
        var o = JSONObject(["channel": .string(step.channel), "template": .object(template)])
        o["delay_ms"] = step.delay.map { .integer($0.milliseconds) }
        o["at"] = step.at.map { .integer($0) }
        o["fallback"] = step.fallback.map { .string($0) }
        return .object(o)
    }

    /// Rebuilds a campaign from its columns and stored spec; a column or spec that cannot be
    /// read is an error naming the campaign, never a default.
    public init(
        id: String, tenant: String, name: String, stateText: String, createdAt: Int64, specJSON: String
    ) throws(StoredValueError) {
        self.init(id: id, tenant: tenant, name: name, steps: [])
        func unreadable(_ column: String, _ value: String, _ expected: String) -> StoredValueError {
            StoredValueError(table: "campaigns", row: id, column: column, value: value, expected: expected)
        }
        guard let state = CampaignState(rawValue: stateText) else {
            throw unreadable("state", stateText, "active, paused or cancelled")
        }
        self.state = state
        self.createdAt = createdAt
        guard case .object? = try? JSONValue.parse(specJSON), let spec = try? JSONValue.parse(specJSON) else {
            throw unreadable("spec", specJSON, "a JSON object")
        }
        steps = (spec["steps"]?.arrayValue ?? []).map { s in
            let t = s["template"]
            var template = MessageTemplate(
                text: t?["text"]?.stringValue, subject: t?["subject"]?.stringValue, html: t?["html"]?.stringValue)
            if let w = t?["whatsapp"], let name = w["name"]?.stringValue, let language = w["language"]?.stringValue {
                template.whatsapp = WhatsAppTemplate(
                    name: name, language: language, params: (w["params"]?.arrayValue ?? []).compactMap(\.stringValue))
            }
            return CampaignStep(
                channel: s["channel"]?.stringValue ?? "", template: template,
                delay: s["delay_ms"]?.int64Value.map { .milliseconds($0) }, at: s["at"]?.int64Value,
                fallback: s["fallback"]?.stringValue)
        }
        schedule = spec["schedule"]?.stringValue
        if let text = spec["priority"]?.stringValue {
            guard let priority = Priority(name: text) else {
                throw unreadable("spec.priority", text, "urgent, normal or bulk")
            }
            self.priority = priority
        }
        rate = try StoredValueError.rate(spec["rate"]?.stringValue, table: "campaigns", row: id, column: "spec.rate")
        startAt = spec["start_at"]?.int64Value
        unsubscribeURL = spec["unsubscribe_url"]?.stringValue
    }
}
