// The daemon's configuration as typed values. Decoding from YAML is in ConfigDecoder.swift;
// every default below is what leadd uses when the key is absent.
import Foundation

public struct LeaddConfig: Sendable, Equatable {
    public var daemon = DaemonConfig()
    public var store = StoreConfig()
    /// Channels in the order the file lists them.
    public var channels: [ChannelConfig] = []
    public var tenants = TenantsConfig()
    /// Named sending windows.
    public var schedules: [String: SendingWindow] = [:]
    public var cache = CacheConfig()
    /// The provider callback listener; nil when not configured.
    public var webhooks: WebhookConfig?

    public init() {}

    public func channel(named name: String) -> ChannelConfig? { channels.first { $0.name == name } }

    /// A sender declared in the file, on any channel.
    public func sender(id: String) -> Sender? {
        for channel in channels { if let s = channel.senders.first(where: { $0.id == id }) { return s } }
        return nil
    }

    /// The window a tenant's messages go out in, in the lead's own time zone when the message
    /// carries one; nil when they may go at any time.
    public func window(forTenant tenant: String, timeZone: TimeZone? = nil) -> SendingWindow? {
        let settings = tenants.settings(for: tenant)
        guard var window = settings.schedule.flatMap({ schedules[$0] }) else { return nil }
        if let zone = timeZone ?? settings.timeZone { window.timeZone = zone }
        return window
    }
}

public struct DaemonConfig: Sendable, Equatable {
    public var stateDirectory = "/var/lib/leadd"
    public var socketPath = "/run/leadd/control.sock"
    public var socketMode: UInt32 = 0o660
    /// The group the socket file is given (its mode then lets that group connect); nil: leadd's own.
    public var socketGroup: UInt32?
    /// Who may read and who may change state, by the peer's credentials; nil: the socket's mode decides.
    public var access: AccessPolicy?
    /// nil: the directory of the running executable in a build tree, else `<prefix>/lib/leadd/plugins`.
    public var pluginDirectory: String?
    public var maxRequestBytes = 1 << 20
    /// Control connections open at once; one more is told why and closed. Each may hold up to
    /// 256 requests of `maxRequestBytes`, so this bounds what clients can make leadd hold.
    public var maxConnections = 1024
    /// How long SIGTERM waits for in-flight sends before exiting.
    public var shutdownGrace: Duration = .seconds(10)
    /// How often systemd's STATUS= line is refreshed.
    public var statusInterval: Duration = .seconds(5)
    /// Where to serve `GET /metrics` over HTTP; loopback only; nil for none.
    public var metricsListen: ListenAddress?
}

public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int
}

public enum SyncMode: String, Sendable, Equatable, CaseIterable {
    /// fsync the WAL at every commit: an acknowledged request survives power loss.
    case full
    /// fsync only at checkpoints: survives a crash of leadd, not of the machine.
    case normal
}

/// Derived values kept in memory: numbers read against numbering plans, compiled templates,
/// tenants' resolved settings.
public struct CacheConfig: Sendable, Equatable {
    public var ttl: Duration = .seconds(300)
    public var maxEntries = 100_000

    public init() {}
}

public struct StoreConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// One file in the state directory: one node.
        case sqlite
        /// A PostgreSQL database shared by one or more nodes.
        case postgres
    }

    public var kind: Kind = .sqlite
    public var synchronous: SyncMode = .full
    /// Most requests grouped into one transaction.
    public var maxBatch = 1000
    /// PostgreSQL: a libpq connection URL (passwords belong in a pgpass file, not here).
    public var url: String?
    /// PostgreSQL: connections this node opens for its work.
    public var pool = 4
    /// PostgreSQL: this node's name, unique among the nodes sharing the database; default the host name.
    public var node: String?
    /// PostgreSQL: how long a silent node keeps its in-flight messages before another takes them back.
    public var lease: Duration = .seconds(15)
}

/// Exponential backoff: the wait before try n+1 is `initial * multiplier^(n-1)`, at most `max`,
/// with jitter, and never shorter than the provider's Retry-After.
public struct RetryConfig: Sendable, Equatable {
    public var initial: Duration = .seconds(30)
    public var multiplier = 2.0
    public var max: Duration = .seconds(3600)
    public var maxAttempts = 5
    /// A message older than this is not retried any more; nil: no limit.
    public var maxAge: Duration? = .seconds(86400)
}

public struct ChannelConfig: Sendable, Equatable {
    public var name: String
    /// A library name (`TestChannel` -> `libTestChannel.so` in the plugin directory) or a path.
    public var plugin: String
    /// The `settings:` mapping as JSON text, handed to the plugin.
    public var settingsJSON = "{}"
    /// Messages handed to the plugin in one call.
    public var batchSize = 100
    /// Batches in flight at once.
    public var concurrency = 4
    /// The provider's rate limit, enforced by a token bucket; nil: none.
    public var rate: Rate?
    /// Sends allowed at once after a quiet spell; default one second's worth of `rate`.
    public var burst: Int?
    public var retry = RetryConfig()
    public var breaker = BreakerConfig()
    /// Which of a lead's addresses the channel sends to; nil: e-mail for an e-mail plugin, else phone.
    public var address: AddressKind?
    /// The identities the channel sends from besides its own settings, in file order.
    public var senders: [Sender] = []
    /// Longest leadd waits for the plugin to answer a batch; the messages it has not answered by
    /// then count as the channel unavailable (outcome unknown) and go again later.
    public var pluginTimeout: Duration = .seconds(120)

    public init(name: String, plugin: String) {
        self.name = name
        self.plugin = plugin
    }
}

/// What a tenant's messages are held to. Every field is optional in an override; what it leaves
/// out comes from `defaults`.
public enum AddressKind: String, Sendable, Equatable {
    case phone, email
}

public struct TenantSettings: Sendable, Equatable {
    /// ISO 3166-1 alpha-2 region of phone numbers written without a country code.
    public var country: String?
    /// The named sending window; nil: any time.
    public var schedule: String?
    /// Evaluates the schedule in this zone instead of the schedule's own.
    public var timeZone: TimeZone?
    /// The most messages the tenant sends per channel in a period; nil: no limit of its own.
    public var rate: Rate?
    /// Sends allowed at once after a quiet spell; default one second's worth of `rate`, at least 1.
    public var burst: Int?
    /// Share of a busy channel relative to other tenants (fair share).
    public var weight = 1
    /// The senders the tenant's messages go out through (on each channel, those of that channel);
    /// on a channel where it has none, the channel's own settings are used.
    public var senders: [String] = []
    /// Opt-out words by language that count for this tenant's leads besides
    /// `webhooks.optout_keywords` (a brand's own "NAO QUERO MAIS", say).
    public var optOutKeywords: [String: [String]] = [:]

    public init() {}
}

public struct TenantsConfig: Sendable, Equatable {
    public var defaults = TenantSettings()
    /// Tenants with settings of their own, as complete values (defaults already applied).
    public var overrides: [String: TenantSettings] = [:]

    public init() {}

    public func settings(for tenant: String) -> TenantSettings { overrides[tenant] ?? defaults }
}

/// `webhooks:`: where provider callbacks (receipts, inbound messages) and one-click unsubscribes
/// arrive, and the secrets that prove they are genuine. Secrets are read at load, never logged.
public struct WebhookConfig: Sendable, Equatable {
    public var listen = ListenAddress(host: "127.0.0.1", port: 8080)
    /// The address providers call, as they see it (Twilio signs the full URL): the reverse proxy's.
    public var publicURL = "http://127.0.0.1:8080"
    public var maxBodyBytes = 65536
    public var twilioAuthToken: String?
    public var whatsappAppSecret: String?
    public var whatsappVerifyToken: String?
    /// When set, Kannel's callback URLs must carry `token=` with this value.
    public var kannelToken: String?
    /// Signs the addresses in List-Unsubscribe links, so nobody can unsubscribe someone else.
    public var unsubscribeSecret: String?
    /// Which leadd channel each provider's callbacks are about.
    public var twilioChannel = "sms"
    public var whatsappChannel = "whatsapp"
    public var kannelChannel = "sms"
    /// Opt-out words by language; an inbound message that is one of them (case, accents and
    /// surrounding spaces aside) unsubscribes its sender.
    public var optOutKeywords: [String: [String]] = [
        "en": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"],
        "pt": ["SAIR", "PARAR", "CANCELAR", "DESCADASTRAR", "PARE"],
        "es": ["BAJA", "ALTO", "DETENER", "CANCELAR"],
    ]

    public init() {}
}
