// The PostgreSQL store's schema and its migrations. `leadd_schema` holds the number of
// migrations applied; each runs once, in order, in the transaction that bumps it, under an
// advisory lock so that nodes starting together migrate once. The tables match the embedded
// store's, with two additions for several nodes: `messages.claimed_by` (the node holding an
// in-flight message) and `nodes` (who is alive), and `counts` kept per connection so that
// writers never wait on each other's count rows.

enum PostgresSchema {
    /// Taken by the transaction that migrates ("LEAD").
    static let migrationLock: Int64 = 0x4C45_4144

    static let migrations: [String] = [
        // 1: the first schema.
        """
        CREATE TABLE tenants (
            id text PRIMARY KEY,
            name text, country text, timezone text, schedule text, rate text, burst bigint, weight bigint,
            senders text, optout_keywords text,
            created_at bigint NOT NULL, updated_at bigint NOT NULL);

        CREATE TABLE campaigns (
            id text PRIMARY KEY, tenant text NOT NULL, name text NOT NULL, spec text NOT NULL,
            state text NOT NULL DEFAULT 'active', created_at bigint NOT NULL);
        CREATE INDEX campaigns_by_tenant ON campaigns(tenant);

        CREATE TABLE leads (
            id bigserial PRIMARY KEY, campaign text NOT NULL, phone text, email text, name text, vars text,
            timezone text, created_at bigint NOT NULL, lead_key text);
        CREATE INDEX leads_by_campaign ON leads(campaign);
        CREATE UNIQUE INDEX leads_by_key ON leads(campaign, lead_key);

        CREATE TABLE messages (
            id bigserial PRIMARY KEY,
            tenant text NOT NULL, channel text NOT NULL, recipient text NOT NULL, content text NOT NULL,
            priority int NOT NULL, idempotency_key text, state int NOT NULL, due_at bigint NOT NULL,
            created_at bigint NOT NULL, sent_at bigint, provider_id text, attempts int NOT NULL DEFAULT 0,
            last_error text, campaign text, lead_id bigint, timezone text, step int,
            claimed_by text);
        CREATE UNIQUE INDEX messages_by_key ON messages(tenant, idempotency_key);
        CREATE INDEX messages_inflight ON messages(claimed_by) WHERE state = 1;
        CREATE INDEX messages_dead ON messages(id) WHERE state = 4;
        CREATE INDEX messages_paused ON messages(campaign) WHERE state = 6;
        CREATE INDEX messages_by_campaign ON messages(campaign, state) WHERE campaign IS NOT NULL;
        CREATE INDEX messages_by_provider_id ON messages(provider_id, channel) WHERE provider_id IS NOT NULL;
        CREATE INDEX messages_by_recipient ON messages(recipient, tenant);

        -- The hot queue: only messages waiting to be sent; its row is the claim.
        CREATE TABLE queue (
            id bigint PRIMARY KEY, channel text NOT NULL, priority int NOT NULL, tenant text NOT NULL,
            zone text NOT NULL, campaign text NOT NULL, due_at bigint NOT NULL);
        CREATE INDEX queue_by_lane ON queue(channel, priority, tenant, zone, campaign, due_at, id);

        CREATE TABLE attempts (
            message_id bigint NOT NULL, seq int NOT NULL, at bigint NOT NULL, outcome text NOT NULL,
            detail text, sender text, PRIMARY KEY (message_id, seq));

        CREATE TABLE suppressions (
            tenant text NOT NULL, address text NOT NULL, reason text, created_at bigint NOT NULL,
            PRIMARY KEY (tenant, address));

        CREATE TABLE senders (
            id text PRIMARY KEY, channel text NOT NULL, settings text NOT NULL, rate text, burst bigint,
            concurrency bigint NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL);

        -- Count changes by writer (node/connection): the sum over slots is the count.
        CREATE TABLE counts (
            slot text NOT NULL, channel text NOT NULL, state int NOT NULL, n bigint NOT NULL,
            PRIMARY KEY (slot, channel, state));

        -- The nodes sharing the store; a node whose seen_at is older than the lease is dead.
        CREATE TABLE nodes (
            name text PRIMARY KEY, host text NOT NULL, pid int NOT NULL, instance text NOT NULL,
            started_at bigint NOT NULL, seen_at bigint NOT NULL);
        """,
        // 2: what this database's default idempotency keys start with (StoreIdentity).
        """
        CREATE TABLE store_identity (key_prefix text NOT NULL);
        INSERT INTO store_identity(key_prefix) VALUES ('');
        """,
    ]
}
