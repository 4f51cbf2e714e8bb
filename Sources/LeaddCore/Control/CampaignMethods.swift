// campaign.create/get/list/pause/resume/cancel and lead.import.
import Foundation
import LeaddProtocol
import Logging

extension ControlService {
    func campaignCreate(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(
            params,
            allowed: ["tenant", "id", "name", "steps", "schedule", "priority", "rate", "start_at", "unsubscribe_url"])
        let tenant = try p.requiredString("tenant", maxLength: 128)
        let id = try p.string("id", maxLength: 128) ?? "c-" + UUID().uuidString.lowercased().prefix(12)
        let name = try p.requiredString("name", maxLength: 256)
        let config = runtime.config.current
        guard let stepValues = try p.array("steps"), !stepValues.isEmpty else {
            throw .invalidParams(field: "steps", "at least one step is required")
        }
        var steps: [CampaignStep] = []
        for (i, value) in stepValues.enumerated() {
            guard case .object(let o) = value else {
                throw .invalidParams(field: "steps.\(i)", "must be an object, not \(value.typeName)")
            }
            let s = try Params(
                o, prefix: "steps.\(i).", allowed: ["channel", "template", "delay", "at", "fallback"])
            let channel = try s.requiredString("channel", maxLength: 64)
            guard config.channel(named: channel) != nil else {
                throw .invalidParams(field: s.field("channel"), "no channel '\(channel)' is configured")
            }
            guard let t = try s.object("template") else {
                throw .invalidParams(field: s.field("template"), "is required")
            }
            let tp = try Params(t, prefix: "steps.\(i).template.", allowed: ["text", "subject", "html", "whatsapp"])
            var template = MessageTemplate(
                text: try tp.string("text", maxLength: 65536), subject: try tp.string("subject", maxLength: 998),
                html: try tp.string("html", maxLength: 1 << 20))
            if let w = try tp.object("whatsapp") {
                let wp = try Params(
                    w, prefix: "steps.\(i).template.whatsapp.", allowed: ["name", "language", "params"])
                var params: [String] = []
                for (j, v) in (try wp.array("params") ?? []).enumerated() {
                    guard case .string(let text) = v else {
                        throw .invalidParams(field: wp.field("params.\(j)"), "must be a string")
                    }
                    params.append(text)
                }
                template.whatsapp = WhatsAppTemplate(
                    name: try wp.requiredString("name", maxLength: 512),
                    language: try wp.requiredString("language", maxLength: 16), params: params)
            }
            guard template.text != nil || template.html != nil || template.whatsapp != nil else {
                throw .invalidParams(field: s.field("template"), "one of text, html or whatsapp is required")
            }
            let fallback = try s.string("fallback", maxLength: 64)
            if let fallback, config.channel(named: fallback) == nil {
                throw .invalidParams(field: s.field("fallback"), "no channel '\(fallback)' is configured")
            }
            let delay = try s.duration("delay")
            let at = try s.timestamp("at")
            if delay != nil && at != nil {
                throw .invalidParams(field: s.field("at"), "give either delay or at, not both")
            }
            steps.append(CampaignStep(channel: channel, template: template, delay: delay, at: at, fallback: fallback))
        }
        var campaign = Campaign(id: String(id), tenant: tenant, name: name, steps: steps)
        if let schedule = try p.string("schedule", maxLength: 128) {
            guard config.schedules[schedule] != nil else {
                throw .invalidParams(
                    field: "schedule",
                    "no schedule '\(schedule)' in the config (defined: \(config.schedules.keys.sorted().joined(separator: ", ")))"
                )
            }
            campaign.schedule = schedule
        }
        if let word = try p.string("priority", maxLength: 16) {
            guard let priority = Priority(name: word) else {
                throw .invalidParams(field: "priority", "'\(word)' is not one of urgent, normal, bulk")
            }
            campaign.priority = priority
        }
        campaign.rate = try p.rate("rate")
        campaign.startAt = try p.timestamp("start_at")
        campaign.unsubscribeURL = try p.string("unsubscribe_url", maxLength: 2048)
        // Templates are checked now, so a broken one is refused before any lead meets it.
        for (i, step) in steps.enumerated() {
            do {
                _ = try StepTemplate(step.template, field: "steps.\(i).template")
            } catch {
                throw .invalidParams(field: error.field, error.reason)
            }
        }
        let stored: Campaign
        do {
            stored = try await runtime.store.createCampaign(campaign, now: runtime.clock.nowMilliseconds())
        } catch let error as CampaignStoreError {
            throw .invalidParams(field: "id", error.description)
        } catch {
            throw storeFailure(error)
        }
        runtime.rules.campaigns.put(stored)
        return .object(JSONObject(["id": .string(stored.id)]))
    }

    func campaignJSON(_ c: Campaign, counts: [MessageState: Int64]? = nil) -> JSONValue {
        var o = JSONObject([
            "id": .string(c.id), "tenant": .string(c.tenant), "name": .string(c.name),
            "state": .string(c.state.rawValue),
            "priority": .string(c.priority.description), "created_at": .string(Timestamp.format(c.createdAt)),
        ])
        o["steps"] = .array(c.steps.map(Campaign.stepJSON))
        o["schedule"] = c.schedule.map { .string($0) }
        o["rate"] = c.rate.map { .string($0.description) }
        o["start_at"] = c.startAt.map { .string(Timestamp.format($0)) }
        o["unsubscribe_url"] = c.unsubscribeURL.map { .string($0) }
        if let counts { o["messages"] = Self.counts(counts) }
        return .object(o)
    }

    func campaignGet(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["id"])
        let id = try p.requiredString("id", maxLength: 128)
        do {
            guard let campaign = try await runtime.store.campaign(id: id) else {
                throw RPCError.notFound("campaign '\(id)'", field: "id")
            }
            return campaignJSON(campaign, counts: try await runtime.store.campaignCounts(id: id))
        } catch let error as RPCError {
            throw error
        } catch {
            throw storeFailure(error)
        }
    }

    func campaignList(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["tenant", "after", "limit"])
        let tenant = try p.string("tenant", maxLength: 128)
        let limit = try p.integer("limit", in: 1...10_000) ?? 100
        let page: [Campaign]
        do {
            page = try await runtime.store.campaigns(
                tenant: tenant, after: try p.string("after", maxLength: 128) ?? "", limit: limit)
        } catch let error as RPCError {
            throw error
        } catch {
            throw storeFailure(error)
        }
        var result = JSONObject(["campaigns": .array(page.map { campaignJSON($0) })])
        if page.count == limit, let last = page.last { result["next"] = .string(last.id) }
        return .object(result)
    }

    func campaignSetState(_ params: JSONObject, to state: CampaignState) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["id"])
        let id = try p.requiredString("id", maxLength: 128)
        var moved: Int
        do {
            moved = try await runtime.store.setCampaignState(id: id, to: state, now: runtime.clock.nowMilliseconds())
        } catch CampaignStoreError.notFound {
            throw .notFound("campaign '\(id)'", field: "id")
        } catch let error as CampaignStoreError {
            throw .invalidParams(field: "id", error.description)
        } catch {
            throw storeFailure(error)
        }
        runtime.rules.campaigns.setState(id, state)
        if state != .active {
            for channel in runtime.channels {
                // Messages already claimed for the next moments are held or cancelled with the rest.
                guard let held = await channel.dispatcher?.forget(campaign: id), !held.isEmpty else { continue }
                do {
                    try await runtime.store.release(held, to: state == .paused ? .paused : .cancelled)
                    moved += held.count
                } catch {
                    throw storeFailure(error)
                }
            }
        }
        logger.notice("campaign \(id) \(state.rawValue): \(moved) messages")
        let key = state == .active ? "resumed" : state == .paused ? "paused" : "cancelled"
        return .object(JSONObject(["id": .string(id), "state": .string(state.rawValue), key: .integer(Int64(moved))]))
    }

    func leadImport(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["campaign", "leads", "dry_run", "first_row"])
        let id = try p.requiredString("campaign", maxLength: 128)
        guard let rows = try p.array("leads") else { throw .invalidParams(field: "leads", "is required") }
        let dryRun = try p.bool("dry_run") ?? false
        let firstRow = try p.integer("first_row", in: 1...Int(Int32.max)) ?? 1
        guard let campaign = runtime.rules.campaigns.campaign(id) else {
            throw .notFound("campaign '\(id)' (or it is cancelled)", field: "campaign")
        }
        let tenant = runtime.rules.settings(for: campaign.tenant, runtime.config)
        let suppressions = runtime.rules.suppressions
        let now = runtime.clock.nowMilliseconds()
        let rules = runtime.rules
        var importer: LeadImporter
        do {
            let templates = try rules.templates.value(for: campaign.id, now: now) { () throws(TemplateError) in
                try LeadImporter.compile(campaign)
            }
            importer = try LeadImporter(
                campaign: campaign, tenant: tenant,
                addressKinds: campaign.steps.map { runtime.addressKind(channel: $0.channel) }, templates: templates,
                isSuppressed: { suppressions.contains(tenant: campaign.tenant, address: $0) },
                normalize: { rules.phoneNumber($0, region: tenant.country, now: now) })
        } catch let error as TemplateError {
            throw .invalidParams(field: error.field, error.reason)
        } catch {
            throw .internalError("\(error)")
        }
        importer.unsubscribeSecret = runtime.config.current.webhooks?.unsubscribeSecret
        var rejected: [LeadRejection] = []
        var prepared: [(row: Int, lead: PreparedLead)] = []
        var seen = Set<String>()
        for (index, value) in rows.enumerated() {
            let row = firstRow + index
            switch importer.prepare(value, row: row, now: now) {
            case .success(let lead):
                if !seen.insert(lead.key).inserted {
                    rejected.append(
                        LeadRejection(row: row, field: "", reason: "duplicate of an earlier row (\(lead.key))"))
                } else {
                    prepared.append((row, lead))
                }
            case .failure(let rejection):
                rejected.append(rejection)
            }
        }
        var accepted = 0
        var messages = 0
        if dryRun {
            accepted = prepared.count
            messages = prepared.reduce(0) { $0 + $1.lead.messages.count }
        } else if !prepared.isEmpty {
            let results: [LeadImportResult]
            do {
                results = try await runtime.store.importLeads(campaign: id, prepared.map(\.lead), now: now)
            } catch CampaignStoreError.notFound {
                throw .notFound("campaign '\(id)'", field: "campaign")
            } catch let error as CampaignStoreError {
                throw .invalidParams(field: "campaign", error.description)
            } catch {
                throw storeFailure(error)
            }
            for (entry, result) in zip(prepared, results) {
                switch result {
                case .accepted(_, let n):
                    accepted += 1
                    messages += n
                case .duplicate:
                    rejected.append(
                        LeadRejection(
                            row: entry.row, field: "", reason: "duplicate: already in the campaign (\(entry.lead.key))")
                    )
                }
            }
            rejected.sort { $0.row < $1.row }
            if messages > 0 {
                var perChannel: [String: Int] = [:]
                for (entry, result) in zip(prepared, results) {
                    if case .accepted = result {
                        for m in entry.lead.messages { perChannel[m.channel, default: 0] += 1 }
                    }
                }
                for (channel, n) in perChannel {
                    runtime.metrics.recordEnqueued(channel: channel, accepted: n, duplicates: 0)
                }
            }
        }
        return .object(
            JSONObject([
                "accepted": .integer(Int64(accepted)), "messages": .integer(Int64(messages)),
                "rejected": .array(
                    rejected.map {
                        .object(
                            JSONObject([
                                "row": .integer(Int64($0.row)), "field": .string($0.field),
                                "reason": .string($0.reason),
                            ]))
                    }),
                "dry_run": .bool(dryRun),
            ]))
    }
}

extension ControlService {
    /// A lead of a campaign, by the key it was imported under (its id, else its phone or e-mail
    /// as given or normalised), with the message each step made of it.
    func leadGet(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["campaign", "key"])
        let id = try p.requiredString("campaign", maxLength: 128)
        var key = try p.requiredString("key", maxLength: 320)
        do {
            guard let campaign = try await runtime.store.campaign(id: id) else {
                throw RPCError.notFound("campaign '\(id)'", field: "campaign")
            }
            var lead = try await runtime.store.lead(campaign: id, key: key)
            if lead == nil {
                // Leads imported without an id are known by their normalised phone or e-mail.
                let region = runtime.rules.settings(for: campaign.tenant, runtime.config).country
                if case .success(let e164) = PhoneNumbers.normalize(key, region: region) {
                    key = e164
                } else if let email = LeadAddress.email(key) {
                    key = email
                }
                lead = try await runtime.store.lead(campaign: id, key: key)
            }
            guard let lead else { throw RPCError.notFound("lead '\(key)' in campaign '\(id)'", field: "key") }
            var messages: [JSONValue] = []
            for step in 1...max(campaign.steps.count, 1) {
                let stepKey = "campaign:\(id):lead:\(lead.key):step:\(step)"
                // The step's message, and the one its fallback channel made of it, if any.
                for (key, fallback) in [(stepKey, false), (stepKey + ":fallback", true)] {
                    guard
                        let messageID = try await runtime.store.messageID(tenant: campaign.tenant, idempotencyKey: key),
                        let m = try await runtime.store.message(id: messageID)
                    else { continue }
                    var o = JSONObject([
                        "id": .string(String(m.id)), "step": .integer(Int64(step)), "channel": .string(m.channel),
                        "to": .string(m.to), "state": .string(m.state.description),
                        "due_at": .string(Timestamp.format(m.dueAt)),
                    ])
                    if fallback { o["fallback"] = .bool(true) }
                    messages.append(.object(o))
                }
            }
            var o = JSONObject([
                "campaign": .string(id), "key": .string(lead.key), "messages": .array(messages),
                "created_at": .string(Timestamp.format(lead.createdAt)),
            ])
            o["phone"] = lead.phone.map { .string($0) }
            o["email"] = lead.email.map { .string($0) }
            o["name"] = lead.name.map { .string($0) }
            o["timezone"] = lead.timeZone.map { .string($0) }
            o["vars"] = lead.varsJSON.flatMap { try? JSONValue.parse($0) }
            return .object(o)
        } catch let error as RPCError {
            throw error
        } catch {
            throw storeFailure(error)
        }
    }
}
