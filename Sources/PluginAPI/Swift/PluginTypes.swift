// Values that cross the plugin boundary, in their Swift form. The C forms live in leadd_plugin.h;
// these types never cross it themselves (Swift types are not shared between images).

/// The ABI version this copy of PluginAPI speaks.
public enum PluginABI {
    public static let major: UInt32 = 1
    public static let minor: UInt32 = 0
    public static let entrySymbol = "leadd_plugin_entry"
}

/// One message handed to a plugin.
public struct PluginMessage: Sendable, Equatable {
    public var token: UInt64
    public var id: String
    public var idempotencyKey: String
    public var tenant: String
    public var to: String
    /// The channel content as a JSON object: `text`, `subject`, `html`, `template`.
    public var contentJSON: String
    public var dueAtMilliseconds: Int64
    public var attempt: UInt32

    public init(
        token: UInt64, id: String, idempotencyKey: String, tenant: String, to: String, contentJSON: String,
        dueAtMilliseconds: Int64, attempt: UInt32
    ) {
        self.token = token
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.tenant = tenant
        self.to = to
        self.contentJSON = contentJSON
        self.dueAtMilliseconds = dueAtMilliseconds
        self.attempt = attempt
    }
}

/// What became of one message. Plugins classify; the host decides what to do next.
public enum PluginOutcome: Int32, Sendable, Equatable {
    case delivered = 0
    case retry = 1
    case failed = 2
    case channelUnavailable = 3
}

/// The result of one message as a plugin reports it.
public struct PluginResult: Sendable, Equatable {
    public var outcome: PluginOutcome
    /// With `retry` or `channelUnavailable`: wait at least this long, in milliseconds.
    public var retryAfterMilliseconds: Int64?
    public var providerID: String?
    public var detail: String?

    public init(
        outcome: PluginOutcome, retryAfterMilliseconds: Int64? = nil, providerID: String? = nil, detail: String? = nil
    ) {
        self.outcome = outcome
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.providerID = providerID
        self.detail = detail
    }

    public static func delivered(providerID: String?) -> PluginResult {
        PluginResult(outcome: .delivered, providerID: providerID)
    }

    public static func retry(_ detail: String, afterMilliseconds: Int64? = nil) -> PluginResult {
        PluginResult(outcome: .retry, retryAfterMilliseconds: afterMilliseconds, detail: detail)
    }

    public static func failed(_ detail: String) -> PluginResult {
        PluginResult(outcome: .failed, detail: detail)
    }

    public static func channelUnavailable(_ detail: String, afterMilliseconds: Int64? = nil) -> PluginResult {
        PluginResult(outcome: .channelUnavailable, retryAfterMilliseconds: afterMilliseconds, detail: detail)
    }
}

/// Levels a plugin may log at; the host maps them to its own logger.
public enum PluginLogLevel: Int32, Sendable {
    case debug = 0
    case info = 1
    case warning = 2
    case error = 3
}
