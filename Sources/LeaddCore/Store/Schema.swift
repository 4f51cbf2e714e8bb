// The store's schema and its migrations. `PRAGMA user_version` holds the number of migrations
// applied; each runs once, in order, inside the transaction that bumps the version.

enum Schema {
    static let migrations: [String] = [
        // 1: the first schema.
        """
        CREATE TABLE tenants (
            id TEXT PRIMARY KEY,
            name TEXT,
            country TEXT,
            timezone TEXT,
            schedule TEXT,
            rate TEXT,
            weight INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE campaigns (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            name TEXT NOT NULL,
            spec TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'active',
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX campaigns_by_tenant ON campaigns(tenant);

        CREATE TABLE leads (
            id INTEGER PRIMARY KEY,
            campaign TEXT NOT NULL,
            phone TEXT,
            email TEXT,
            name TEXT,
            vars TEXT,
            timezone TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX leads_by_campaign ON leads(campaign);

        -- Every message ever accepted; payload written once.
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            content TEXT NOT NULL,
            priority INTEGER NOT NULL,
            idempotency_key TEXT,
            state INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            sent_at INTEGER,
            provider_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            campaign TEXT,
            lead_id INTEGER
        );
        CREATE UNIQUE INDEX messages_by_key ON messages(tenant, idempotency_key);
        -- Only in-flight rows, so crash recovery at start does not scan every message.
        CREATE INDEX messages_inflight ON messages(id) WHERE state = 1;

        -- The hot queue: only messages waiting to be sent, clustered by channel and due time.
        CREATE TABLE queue (
            channel TEXT NOT NULL,
            due_at INTEGER NOT NULL,
            id INTEGER NOT NULL,
            PRIMARY KEY (channel, due_at, id)
        ) WITHOUT ROWID;

        -- Append-only history of tries, clustered by message.
        CREATE TABLE attempts (
            message_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            at INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT,
            PRIMARY KEY (message_id, seq)
        ) WITHOUT ROWID;

        CREATE TABLE suppressions (
            tenant TEXT NOT NULL,
            address TEXT NOT NULL,
            reason TEXT,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (tenant, address)
        ) WITHOUT ROWID;

        -- Message counts by channel and state, kept exact by every write transaction so that
        -- status and queue.stats never scan the messages table.
        CREATE TABLE counts (
            channel TEXT NOT NULL,
            state INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (channel, state)
        ) WITHOUT ROWID;
        """,
        // 2: dead letters found without scanning every message.
        """
        CREATE INDEX messages_dead ON messages(id) WHERE state = 4;
        """,
        // 3: the queue in lanes (priority, tenant, lead's zone, campaign) so the scheduler can serve
        // tenants fairly and urgent before bulk without reading past a big tenant's backlog;
        // campaigns that can be paused; leads known by a key so a re-import adds nothing.
        """
        CREATE TABLE queue_lanes (
            channel TEXT NOT NULL,
            priority INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            zone TEXT NOT NULL,
            campaign TEXT NOT NULL,
            due_at INTEGER NOT NULL,
            id INTEGER NOT NULL,
            PRIMARY KEY (channel, priority, tenant, zone, campaign, due_at, id)
        ) WITHOUT ROWID;
        INSERT INTO queue_lanes SELECT q.channel, m.priority, m.tenant, '', coalesce(m.campaign, ''), q.due_at, q.id
            FROM queue q JOIN messages m ON m.id = q.id;
        DROP TABLE queue;
        ALTER TABLE queue_lanes RENAME TO queue;
        ALTER TABLE messages ADD COLUMN timezone TEXT;
        ALTER TABLE messages ADD COLUMN step INTEGER;
        -- Messages of a paused campaign, so resume finds them without a scan.
        CREATE INDEX messages_paused ON messages(campaign) WHERE state = 6;
        CREATE INDEX messages_by_campaign ON messages(campaign, state) WHERE campaign IS NOT NULL;
        -- Tenants written by tenant.put: every setting optional (the config fills the gaps).
        DROP TABLE tenants;
        CREATE TABLE tenants (
            id TEXT PRIMARY KEY,
            name TEXT,
            country TEXT,
            timezone TEXT,
            schedule TEXT,
            rate TEXT,
            burst INTEGER,
            weight INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        ALTER TABLE leads ADD COLUMN lead_key TEXT;
        CREATE UNIQUE INDEX leads_by_key ON leads(campaign, lead_key);
        """,
        // 4: receipts find a message by the provider's id; opt-outs find a lead's messages by address.
        """
        CREATE INDEX messages_by_provider_id ON messages(provider_id, channel) WHERE provider_id IS NOT NULL;
        CREATE INDEX messages_by_recipient ON messages(recipient, tenant);
        """,
        // 5: senders stored by sender.put (settings hold secret references only), the senders a
        // tenant is bound to and its own opt-out words, and which sender each try went out through.
        """
        CREATE TABLE senders (
            id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            settings TEXT NOT NULL,
            rate TEXT,
            burst INTEGER,
            concurrency INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        ALTER TABLE tenants ADD COLUMN senders TEXT;
        ALTER TABLE tenants ADD COLUMN optout_keywords TEXT;
        ALTER TABLE attempts ADD COLUMN sender TEXT;
        """,
        // 6: messages in flight are kept in memory and listed per claimed batch in `claims` (ids as
        // one blob), so a claim no longer rewrites each message row. Rows a former leadd left in
        // flight (state 1) go back to the queue, as its restart would have put them.
        """
        CREATE TABLE claims (
            batch INTEGER PRIMARY KEY,
            ids BLOB NOT NULL
        );
        INSERT OR IGNORE INTO queue(channel, priority, tenant, zone, campaign, due_at, id)
            SELECT channel, priority, tenant, coalesce(timezone, ''), coalesce(campaign, ''), due_at, id
            FROM messages WHERE state = 1;
        UPDATE messages SET state = 0 WHERE state = 1;
        INSERT INTO counts(channel, state, n) SELECT channel, 0, n FROM counts WHERE state = 1
            ON CONFLICT(channel, state) DO UPDATE SET n = n + excluded.n;
        DELETE FROM counts WHERE state = 1;
        DROP INDEX messages_inflight;
        """,
        // 7: the queue keyed by lane number (see LaneNumbers): one integer in place of five columns.
        """
        CREATE TABLE lanes (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            priority INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            zone TEXT NOT NULL,
            campaign TEXT NOT NULL,
            UNIQUE (channel, priority, tenant, zone, campaign)
        );
        INSERT INTO lanes(channel, priority, tenant, zone, campaign)
            SELECT DISTINCT channel, priority, tenant, zone, campaign FROM queue ORDER BY 1, 2, 3, 4, 5;
        CREATE TABLE queue_by_number (
            lane INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            id INTEGER NOT NULL,
            PRIMARY KEY (lane, due_at, id)
        ) WITHOUT ROWID;
        INSERT INTO queue_by_number SELECT l.id, q.due_at, q.id
            FROM queue q JOIN lanes l USING (channel, priority, tenant, zone, campaign) ORDER BY 1, 2, 3;
        DROP TABLE queue;
        ALTER TABLE queue_by_number RENAME TO queue;
        """,
        // 8: what this database's default idempotency keys start with (StoreIdentity).
        """
        CREATE TABLE store_identity (key_prefix TEXT NOT NULL);
        INSERT INTO store_identity(key_prefix) VALUES ('');
        """,
    ]

    /// Marks the file as leadd's, so a foreign SQLite database is refused rather than altered.
    static let applicationID: Int64 = 0x4C45_4144  // "LEAD"
}
