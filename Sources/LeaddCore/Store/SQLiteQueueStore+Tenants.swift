// Tenants and suppressions in the embedded store.
import LeaddProtocol

extension SQLiteQueueStore {
    public func putTenant(_ tenant: Tenant, now: Int64) async throws -> Tenant {
        try await writer.submit { db, _ in
            let s = try db.statement(
                """
                INSERT INTO tenants(id, name, country, timezone, schedule, rate, burst, weight, created_at, updated_at,
                    senders, optout_keywords)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)
                ON CONFLICT(id) DO UPDATE SET name = ?2, country = ?3, timezone = ?4, schedule = ?5, rate = ?6,
                    burst = ?7, weight = ?8, updated_at = ?9, senders = ?10, optout_keywords = ?11
                RETURNING created_at
                """)
            s.bind(1, tenant.id)
            s.bind(2, tenant.name)
            s.bind(3, tenant.country)
            s.bind(4, tenant.timeZone)
            s.bind(5, tenant.schedule)
            s.bind(6, tenant.rate?.description)
            s.bind(7, tenant.burst.map(Int64.init))
            s.bind(8, tenant.weight.map(Int64.init))
            s.bind(9, now)
            // Sender ids cannot hold a comma.
            s.bind(10, tenant.senders?.joined(separator: ","))
            s.bind(11, tenant.optOutKeywords.map(Self.keywordsJSON))
            defer { s.reset() }
            var stored = tenant
            stored.createdAt = try s.step() ? s.int64(0) : now
            stored.updatedAt = now
            return stored
        }
    }

    private static let tenantColumns =
        "id, name, country, timezone, schedule, rate, burst, weight, created_at, updated_at, senders, optout_keywords"

    private static func tenant(_ s: SQLiteStatement) throws(StoredValueError) -> Tenant {
        var t = Tenant(id: s.string(0))
        t.name = s.stringOrNil(1)
        t.country = s.stringOrNil(2)
        t.timeZone = s.stringOrNil(3)
        t.schedule = s.stringOrNil(4)
        t.rate = try StoredValueError.rate(s.stringOrNil(5), table: "tenants", row: t.id)
        t.burst = s.int64OrNil(6).map { Int($0) }
        t.weight = s.int64OrNil(7).map { Int($0) }
        t.createdAt = s.int64(8)
        t.updatedAt = s.int64(9)
        t.senders = s.stringOrNil(10).map { $0.split(separator: ",").map(String.init) }
        t.optOutKeywords = try StoredValueError.keywords(s.stringOrNil(11), table: "tenants", row: t.id)
        return t
    }

    static func keywordsJSON(_ words: [String: [String]]) -> String {
        var o = JSONObject()
        for (language, list) in words.sorted(by: { $0.key < $1.key }) { o[language] = .array(list.map { .string($0) }) }
        return JSONValue.object(o).serialized
    }

    static func keywords(_ text: String) -> [String: [String]]? {
        guard case .object(let o) = try? JSONValue.parse(text) else { return nil }
        var words: [String: [String]] = [:]
        for (language, list) in o { words[language] = list.arrayValue?.compactMap(\.stringValue) ?? [] }
        return words
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await reader.submit { db, _ in
            let s = try db.statement("SELECT \(Self.tenantColumns) FROM tenants WHERE id = ?")
            s.bind(1, id)
            defer { s.reset() }
            return try s.step() ? try Self.tenant(s) : nil
        }
    }

    public func tenants(after: String, limit: Int) async throws -> [Tenant] {
        try await reader.submit { db, _ in
            let s = try db.statement("SELECT \(Self.tenantColumns) FROM tenants WHERE id > ? ORDER BY id LIMIT ?")
            s.bind(1, after)
            s.bind(2, Int64(limit))
            defer { s.reset() }
            var tenants: [Tenant] = []
            while try s.step() { tenants.append(try Self.tenant(s)) }
            return tenants
        }
    }

    /// Adds an address to a tenant's suppression list; false when it was there already.
    public func addSuppression(tenant: String, address: String, reason: String?, now: Int64) async throws -> Bool {
        try await writer.submit { db, _ in try Self.insertSuppression(db, tenant, address, reason, now) }
    }

    /// Adds `address` to `tenant`'s list; false when it was there already.
    static func insertSuppression(
        _ db: SQLiteConnection, _ tenant: String, _ address: String, _ reason: String?, _ now: Int64
    )
        throws -> Bool
    {
        let s = try db.statement(
            "INSERT INTO suppressions(tenant, address, reason, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
        s.bind(1, tenant)
        s.bind(2, address)
        s.bind(3, reason)
        s.bind(4, now)
        try s.run()
        return db.changes == 1
    }

    public func removeSuppression(tenant: String, address: String) async throws -> Bool {
        try await writer.submit { db, _ in
            let s = try db.statement("DELETE FROM suppressions WHERE tenant = ? AND address = ?")
            s.bind(1, tenant)
            s.bind(2, address)
            try s.run()
            return db.changes == 1
        }
    }

    /// Suppressions ordered by (tenant, address) after the given pair; of one tenant when given.
    public func suppressions(tenant: String?, after: (String, String), limit: Int) async throws -> [Suppression] {
        try await reader.submit { db, _ in
            let s = try db.statement(
                """
                SELECT tenant, address, reason, created_at FROM suppressions
                WHERE (?1 IS NULL OR tenant = ?1) AND (tenant, address) > (?2, ?3) ORDER BY tenant, address LIMIT ?4
                """)
            s.bind(1, tenant)
            s.bind(2, after.0)
            s.bind(3, after.1)
            s.bind(4, Int64(limit))
            defer { s.reset() }
            var rows: [Suppression] = []
            while try s.step() {
                rows.append(
                    Suppression(
                        tenant: s.string(0), address: s.string(1), reason: s.stringOrNil(2), createdAt: s.int64(3)))
            }
            return rows
        }
    }
}
