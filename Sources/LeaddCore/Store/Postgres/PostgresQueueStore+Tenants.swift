// Tenants and suppressions in the PostgreSQL store. Lists page in byte order (COLLATE "C"), as
// the embedded store sorts text, whatever collation the database was created with.

extension PostgresQueueStore {
    public func putTenant(_ tenant: Tenant, now: Int64) async throws -> Tenant {
        try await pool.write { db, _ in
            let r = try db.query(
                """
                INSERT INTO tenants(id, name, country, timezone, schedule, rate, burst, weight, created_at, updated_at,
                    senders, optout_keywords)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)
                ON CONFLICT (id) DO UPDATE SET name = $2, country = $3, timezone = $4, schedule = $5, rate = $6,
                    burst = $7, weight = $8, updated_at = $9, senders = $10, optout_keywords = $11
                RETURNING created_at
                """,
                [
                    tenant.id, tenant.name, tenant.country, tenant.timeZone, tenant.schedule, tenant.rate?.description,
                    tenant.burst.map(Int64.init), tenant.weight.map(Int64.init), now,
                    // Sender ids cannot hold a comma.
                    tenant.senders?.joined(separator: ","), tenant.optOutKeywords.map(SQLiteQueueStore.keywordsJSON),
                ])
            var stored = tenant
            stored.createdAt = r.count == 1 ? r.int64(0, 0) : now
            stored.updatedAt = now
            return stored
        }
    }

    private static let tenantColumns =
        "id, name, country, timezone, schedule, rate, burst, weight, created_at, updated_at, senders, optout_keywords"

    private static func tenant(_ r: PostgresResult, _ row: Int) throws(StoredValueError) -> Tenant {
        var t = Tenant(id: r.string(row, 0))
        t.name = r.stringOrNil(row, 1)
        t.country = r.stringOrNil(row, 2)
        t.timeZone = r.stringOrNil(row, 3)
        t.schedule = r.stringOrNil(row, 4)
        t.rate = try StoredValueError.rate(r.stringOrNil(row, 5), table: "tenants", row: t.id)
        t.burst = r.int64OrNil(row, 6).map { Int($0) }
        t.weight = r.int64OrNil(row, 7).map { Int($0) }
        t.createdAt = r.int64(row, 8)
        t.updatedAt = r.int64(row, 9)
        t.senders = r.stringOrNil(row, 10).map { $0.split(separator: ",").map(String.init) }
        t.optOutKeywords = try StoredValueError.keywords(r.stringOrNil(row, 11), table: "tenants", row: t.id)
        return t
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await pool.read { db in
            let r = try db.query("SELECT \(Self.tenantColumns) FROM tenants WHERE id = $1", [id])
            return r.count == 1 ? try Self.tenant(r, 0) : nil
        }
    }

    public func tenants(after: String, limit: Int) async throws -> [Tenant] {
        try await pool.read { db in
            let r = try db.query(
                """
                SELECT \(Self.tenantColumns) FROM tenants
                WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2
                """, [after, limit])
            return try (0..<r.count).map { row throws(StoredValueError) in try Self.tenant(r, row) }
        }
    }

    /// Adds an address to a tenant's suppression list; false when it was there already.
    public func addSuppression(tenant: String, address: String, reason: String?, now: Int64) async throws -> Bool {
        try await pool.write { db, _ in try Self.insertSuppression(db, tenant, address, reason, now) }
    }

    /// Adds `address` to `tenant`'s list; false when it was there already.
    static func insertSuppression(
        _ db: PostgresConnection, _ tenant: String, _ address: String, _ reason: String?, _ now: Int64
    ) throws -> Bool {
        let r = try db.query(
            """
            INSERT INTO suppressions(tenant, address, reason, created_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT DO NOTHING
            """, [tenant, address, reason, now])
        return r.affected == 1
    }

    public func removeSuppression(tenant: String, address: String) async throws -> Bool {
        try await pool.write { db, _ in
            let r = try db.query("DELETE FROM suppressions WHERE tenant = $1 AND address = $2", [tenant, address])
            return r.affected == 1
        }
    }

    /// Suppressions ordered by (tenant, address) after the given pair; of one tenant when given.
    public func suppressions(tenant: String?, after: (String, String), limit: Int) async throws -> [Suppression] {
        try await pool.read { db in
            let r = try db.query(
                """
                SELECT tenant, address, reason, created_at FROM suppressions
                WHERE ($1::text IS NULL OR tenant = $1) AND (tenant COLLATE "C", address COLLATE "C") > ($2, $3)
                ORDER BY tenant COLLATE "C", address COLLATE "C" LIMIT $4
                """, [tenant, after.0, after.1, limit])
            return (0..<r.count).map { row in
                Suppression(
                    tenant: r.string(row, 0), address: r.string(row, 1), reason: r.stringOrNil(row, 2),
                    createdAt: r.int64(row, 3))
            }
        }
    }
}
