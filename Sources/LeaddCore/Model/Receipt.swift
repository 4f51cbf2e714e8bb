// What providers report after they accepted a message, and what leads send back.

/// A provider's report on a message it accepted.
public struct Receipt: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        /// leadd's own id (Kannel's dlr-url carries it).
        case message(Int64)
        /// The provider's id for the message on `channel` (Twilio's MessageSid, a WhatsApp wamid).
        case provider(channel: String, id: String)
    }

    public enum Status: String, Sendable, Equatable {
        case delivered
        case read
        case undelivered

        var state: MessageState {
            switch self {
            case .delivered: .delivered
            case .read: .read
            case .undelivered: .undelivered
            }
        }
    }

    public var target: Target
    public var status: Status
    public var at: Int64
    /// The provider's words: its status and, when undelivered, its reason.
    public var detail: String?

    public init(target: Target, status: Status, at: Int64, detail: String?) {
        self.target = target
        self.status = status
        self.at = at
        self.detail = detail
    }

    /// How far along a state is: a receipt never moves a message back (reports can arrive out of
    /// order: "read" before "delivered").
    static func rank(_ state: MessageState) -> Int? {
        switch state {
        case .sent: 0
        case .delivered, .undelivered: 1
        case .read: 2
        default: nil
        }
    }
}

/// A message that a receipt moved, as the rest of leadd needs it (events, fallback).
public struct ReceiptApplied: Sendable, Equatable {
    public var id: Int64
    public var tenant: String
    public var channel: String
    public var to: String
    public var campaign: String?
    public var state: MessageState
}

/// A message a lead sent to one of our numbers.
public struct InboundMessage: Sendable, Equatable {
    public var channel: String
    public var from: String
    public var to: String?
    public var text: String
    public var at: Int64

    public init(channel: String, from: String, to: String?, text: String, at: Int64) {
        self.channel = channel
        self.from = from
        self.to = to
        self.text = text
        self.at = at
    }
}

/// What an opt-out did: the tenant whose list the address joined, and how many unsent messages
/// to it were cancelled.
public struct OptOutApplied: Sendable, Equatable {
    public var tenant: String
    public var address: String
    public var cancelled: Int
}
