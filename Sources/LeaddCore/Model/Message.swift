// Messages as plain values. Times are Unix epoch milliseconds (UTC) throughout the core.

public enum MessageState: Int, Sendable, CaseIterable, CustomStringConvertible {
    case scheduled = 0
    case inflight = 1
    case sent = 2
    /// Permanently refused by the provider.
    case failed = 3
    /// Retries exhausted.
    case dead = 4
    case cancelled = 5
    /// Held back with its campaign; queued again, at its due time, when the campaign resumes.
    case paused = 6
    /// After `sent`, from the provider's receipts: on the handset, read, or given up on.
    case delivered = 7
    case read = 8
    case undelivered = 9

    public var description: String {
        switch self {
        case .scheduled: "scheduled"
        case .inflight: "inflight"
        case .sent: "sent"
        case .failed: "failed"
        case .dead: "dead"
        case .cancelled: "cancelled"
        case .paused: "paused"
        case .delivered: "delivered"
        case .read: "read"
        case .undelivered: "undelivered"
        }
    }
}

public enum Priority: Int, Sendable, CaseIterable, CustomStringConvertible {
    case urgent = 0
    case normal = 1
    case bulk = 2

    public var description: String {
        switch self {
        case .urgent: "urgent"
        case .normal: "normal"
        case .bulk: "bulk"
        }
    }

    public init?(name: String) {
        guard let p = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = p
    }
}

/// A message as a client asks for it, validated.
public struct NewMessage: Sendable, Equatable {
    public var tenant: String
    public var channel: String
    public var to: String
    /// Channel content as a JSON object text: text, subject, html, template.
    public var contentJSON: String
    public var dueAt: Int64
    public var priority: Priority
    public var idempotencyKey: String?
    /// The lead's own IANA time zone: the tenant's sending window applies in it.
    public var timeZone: String?
    public var campaign: String?
    public var leadID: Int64?
    public var step: Int?

    public init(
        tenant: String, channel: String, to: String, contentJSON: String, dueAt: Int64, priority: Priority = .normal,
        idempotencyKey: String? = nil, timeZone: String? = nil
    ) {
        self.tenant = tenant
        self.channel = channel
        self.to = to
        self.contentJSON = contentJSON
        self.dueAt = dueAt
        self.priority = priority
        self.idempotencyKey = idempotencyKey
        self.timeZone = timeZone
    }
}

public struct EnqueueResult: Sendable, Equatable {
    public var id: Int64
    /// True when the idempotency key was already stored: `id` is the first message's.
    public var duplicate: Bool
}

/// One try at delivering a message, as kept in its history.
public struct AttemptRecord: Sendable, Equatable {
    public var at: Int64
    public var outcome: String
    public var detail: String?
    /// The sender the try went out through; nil: the channel's own settings.
    public var sender: String? = nil
}

public struct StoredMessage: Sendable, Equatable {
    public var id: Int64
    public var tenant: String
    public var channel: String
    public var to: String
    public var contentJSON: String
    public var priority: Priority
    public var idempotencyKey: String
    public var state: MessageState
    public var dueAt: Int64
    public var createdAt: Int64
    public var sentAt: Int64?
    public var providerID: String?
    public var attemptCount: Int
    public var lastError: String?
    public var timeZone: String? = nil
    public var campaign: String? = nil
    public var step: Int? = nil
    public var leadID: Int64? = nil
    public var attempts: [AttemptRecord]

    /// The message as the dispatcher would have claimed it (for a fallback made after the fact).
    var claimed: ClaimedMessage {
        ClaimedMessage(
            id: id, tenant: tenant, channel: channel, to: to, contentJSON: contentJSON, idempotencyKey: idempotencyKey,
            dueAt: dueAt, attemptCount: attemptCount, createdAt: createdAt, priority: priority, timeZone: timeZone,
            campaign: campaign, leadID: leadID, step: step)
    }
}

/// A message taken from the queue for sending.
public struct ClaimedMessage: Sendable, Equatable {
    public var id: Int64
    public var tenant: String
    public var channel: String
    public var to: String
    public var contentJSON: String
    public var idempotencyKey: String
    public var dueAt: Int64
    /// Attempts made before this one.
    public var attemptCount: Int
    public var createdAt: Int64 = 0
    public var priority: Priority = .normal
    /// The lead's own time zone, if the message carries one.
    public var timeZone: String? = nil
    public var campaign: String? = nil
    public var leadID: Int64? = nil
    /// The campaign step (1-based) the message was made for; nil for a fallback or a single send.
    public var step: Int? = nil
}

/// What to write after a try.
public struct DeliveryOutcome: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case sent(providerID: String?)
        case retry(at: Int64)
        /// Tried again at `at` without counting an attempt: the channel, not the message, failed.
        case deferred(at: Int64)
        case failed
        case dead
        /// Not sent here and never will be (the lead opted out, or the message went to a fallback
        /// channel): cancelled without counting a try.
        case cancelled
    }

    public var id: Int64
    public var channel: String
    public var kind: Kind
    public var at: Int64
    /// The outcome word kept in the history: delivered, retry, failed, unavailable, dead.
    public var word: String
    public var detail: String?
    /// The sender the message went out through; nil: the channel's own settings.
    public var sender: String?

    public init(
        id: Int64, channel: String, kind: Kind, at: Int64, word: String, detail: String?, sender: String? = nil
    ) {
        self.sender = sender
        self.id = id
        self.channel = channel
        self.kind = kind
        self.at = at
        self.word = word
        self.detail = detail
    }
}

/// Message counts by state, overall and per channel.
public struct QueueStats: Sendable, Equatable {
    public var byChannel: [String: [MessageState: Int64]] = [:]

    public var total: [MessageState: Int64] {
        var total: [MessageState: Int64] = [:]
        for counts in byChannel.values { for (state, n) in counts { total[state, default: 0] += n } }
        return total
    }
}

/// The key the plugin sees when the client gave none: stable across retries and restarts, and
/// made unique to the database by its prefix (see StoreIdentity).
public func effectiveIdempotencyKey(id: Int64, given: String?, prefix: String = "") -> String {
    given ?? "leadd-\(prefix)\(id)"
}

/// Which dead letters a dlq request is about; nil fields match everything.
public struct DeadLetterFilter: Sendable, Equatable {
    public var ids: [Int64]?
    public var tenant: String?
    public var channel: String?
    public var campaign: String?
    /// Text the message's last error contains.
    public var error: String?

    public init(
        ids: [Int64]? = nil, tenant: String? = nil, channel: String? = nil, campaign: String? = nil,
        error: String? = nil
    ) {
        self.ids = ids
        self.tenant = tenant
        self.channel = channel
        self.campaign = campaign
        self.error = error
    }

    public var isEmpty: Bool { ids == nil && tenant == nil && channel == nil && campaign == nil && error == nil }
}
