// tenant.put/get/list and suppression.add/remove/list.
import Foundation
import LeaddProtocol

extension ControlService {
    func tenantPut(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(
            params,
            allowed: [
                "id", "name", "country", "timezone", "schedule", "rate", "burst", "weight", "senders",
                "optout_keywords",
            ])
        var tenant = Tenant(id: try p.requiredString("id", maxLength: 128))
        tenant.name = try p.string("name", maxLength: 256)
        if let code = try p.string("country", maxLength: 8)?.uppercased() {
            guard PhoneNumbers.isKnownRegion(code) else {
                throw .invalidParams(field: "country", "'\(code)' is not a region code with a numbering plan (like BR)")
            }
            tenant.country = code
        }
        if let zone = try p.string("timezone", maxLength: 64) {
            guard TimeZone(identifier: zone) != nil else {
                throw .invalidParams(field: "timezone", "'\(zone)' is not an IANA time zone (like America/Sao_Paulo)")
            }
            tenant.timeZone = zone
        }
        if let schedule = try p.string("schedule", maxLength: 128) {
            let known = runtime.config.current.schedules
            guard known[schedule] != nil else {
                throw .invalidParams(
                    field: "schedule",
                    "no schedule '\(schedule)' in the config (defined: \(known.keys.sorted().joined(separator: ", ")))")
            }
            tenant.schedule = schedule
        }
        tenant.rate = try p.rate("rate")
        tenant.burst = try p.integer("burst", in: 1...1_000_000)
        tenant.weight = try p.integer("weight", in: 1...1000)
        tenant.senders = try tenantSenders(p)
        tenant.optOutKeywords = try keywords(p)
        let stored: Tenant
        do {
            stored = try await runtime.store.putTenant(tenant, now: runtime.clock.nowMilliseconds())
        } catch {
            throw storeFailure(error)
        }
        runtime.rules.tenants.put(stored)
        return .object(JSONObject(["id": .string(stored.id)]))
    }

    func tenantJSON(_ t: Tenant?, id: String) -> JSONValue {
        var o = JSONObject(["id": .string(id)])
        if let t {
            o["name"] = t.name.map { .string($0) }
            o["country"] = t.country.map { .string($0) }
            o["timezone"] = t.timeZone.map { .string($0) }
            o["schedule"] = t.schedule.map { .string($0) }
            o["rate"] = t.rate.map { .string($0.description) }
            o["burst"] = t.burst.map { .integer(Int64($0)) }
            o["weight"] = t.weight.map { .integer(Int64($0)) }
            o["senders"] = t.senders.map { .array($0.map { .string($0) }) }
            o["optout_keywords"] = t.optOutKeywords.flatMap { try? JSONValue.parse(SQLiteQueueStore.keywordsJSON($0)) }
            o["created_at"] = .string(Timestamp.format(t.createdAt))
            o["updated_at"] = .string(Timestamp.format(t.updatedAt))
        }
        // What the tenant is held to once the config's override and defaults fill the gaps.
        let s = runtime.rules.settings(for: id, runtime.config)
        var effective = JSONObject(["weight": .integer(Int64(s.weight))])
        effective["country"] = s.country.map { .string($0) }
        effective["timezone"] = s.timeZone.map { .string($0.identifier) }
        effective["schedule"] = s.schedule.map { .string($0) }
        effective["rate"] = s.rate.map { .string($0.description) }
        effective["burst"] = s.burst.map { .integer(Int64($0)) }
        effective["senders"] = .array(s.senders.map { .string($0) })
        o["effective"] = .object(effective)
        return .object(o)
    }

    func tenantGet(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["id"])
        let id = try p.requiredString("id", maxLength: 128)
        guard let tenant = runtime.rules.tenants.tenant(id) else { throw .notFound("tenant '\(id)'", field: "id") }
        return tenantJSON(tenant, id: id)
    }

    func tenantList(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["after", "limit"])
        let after = try p.string("after", maxLength: 128) ?? ""
        let limit = try p.integer("limit", in: 1...10_000) ?? 100
        let page: [Tenant]
        do {
            page = try await runtime.store.tenants(after: after, limit: limit)
        } catch {
            throw storeFailure(error)
        }
        var result = JSONObject(["tenants": .array(page.map { tenantJSON($0, id: $0.id) })])
        if page.count == limit, let last = page.last { result["next"] = .string(last.id) }
        return .object(result)
    }

    /// A suppression address in the form leads are stored in: E.164 or lower-cased e-mail.
    func suppressionAddress(_ text: String, tenant: String, field: String) throws(RPCError) -> String {
        if text.contains("@") {
            guard let email = LeadAddress.email(text) else {
                throw .invalidParams(field: field, "'\(text)' is not an e-mail address")
            }
            return email
        }
        let region = runtime.rules.settings(for: tenant, runtime.config).country
        switch runtime.rules.phoneNumber(text, region: region, now: runtime.clock.nowMilliseconds()) {
        case .success(let e164): return e164
        case .failure(let failure): throw .invalidParams(field: field, "'\(text)': \(failure)")
        }
    }

    func suppressionAdd(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["tenant", "address", "reason"])
        let tenant = try p.requiredString("tenant", maxLength: 128)
        let address = try suppressionAddress(
            try p.requiredString("address", maxLength: 320), tenant: tenant, field: "address")
        let reason = try p.string("reason", maxLength: 1024)
        let added: Bool
        do {
            added = try await runtime.store.addSuppression(
                tenant: tenant, address: address, reason: reason, now: runtime.clock.nowMilliseconds())
        } catch {
            throw storeFailure(error)
        }
        runtime.rules.suppressions.add(tenant: tenant, address: address)
        return .object(JSONObject(["tenant": .string(tenant), "address": .string(address), "added": .bool(added)]))
    }

    func suppressionRemove(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["tenant", "address"])
        let tenant = try p.requiredString("tenant", maxLength: 128)
        let address = try suppressionAddress(
            try p.requiredString("address", maxLength: 320), tenant: tenant, field: "address")
        let removed: Bool
        do {
            removed = try await runtime.store.removeSuppression(tenant: tenant, address: address)
        } catch {
            throw storeFailure(error)
        }
        runtime.rules.suppressions.remove(tenant: tenant, address: address)
        return .object(JSONObject(["tenant": .string(tenant), "address": .string(address), "removed": .bool(removed)]))
    }

    func suppressionList(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["tenant", "after", "limit"])
        let tenant = try p.string("tenant", maxLength: 128)
        let after = try p.string("after", maxLength: 320) ?? ""
        let limit = try p.integer("limit", in: 1...10_000) ?? 100
        let page: [Suppression]
        do {
            page = try await runtime.store.suppressions(tenant: tenant, after: (tenant ?? "", after), limit: limit)
        } catch {
            throw storeFailure(error)
        }
        let rows: [JSONValue] = page.map { s in
            var o = JSONObject([
                "tenant": .string(s.tenant), "address": .string(s.address),
                "created_at": .string(Timestamp.format(s.createdAt)),
            ])
            o["reason"] = s.reason.map { .string($0) }
            return .object(o)
        }
        var result = JSONObject(["suppressions": .array(rows)])
        if page.count == limit, let last = page.last { result["next"] = .string(last.address) }
        return .object(result)
    }
}

extension ControlService {
    /// tenant.put's `optout_keywords`: `{language: [words]}`, each word non-empty.
    func keywords(_ p: Params) throws(RPCError) -> [String: [String]]? {
        guard let object = try p.object("optout_keywords") else { return nil }
        var words: [String: [String]] = [:]
        for (language, list) in object {
            let field = "optout_keywords.\(language)"
            guard language.count <= 16, case .array(let items) = list else {
                throw .invalidParams(field: field, "must be a list of words under a language code (like pt)")
            }
            words[language] = try items.enumerated().map { (index, item) throws(RPCError) -> String in
                guard case .string(let word) = item, !OptOutKeywords.normalized(word).isEmpty, word.count <= 64 else {
                    throw .invalidParams(field: "\(field)[\(index)]", "must be a word of 1-64 characters")
                }
                return word
            }
        }
        return words
    }
}
