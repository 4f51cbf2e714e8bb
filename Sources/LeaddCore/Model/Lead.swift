// A lead: someone a campaign contacts, as imported and as stored.

public struct Lead: Sendable, Equatable {
    /// What makes the lead the same lead on a re-import: its id, phone or e-mail.
    public var key: String
    /// E.164.
    public var phone: String?
    /// Lower-cased.
    public var email: String?
    public var name: String?
    /// The lead's variables as a JSON object text.
    public var varsJSON: String?
    /// The lead's own IANA time zone.
    public var timeZone: String?

    public init(
        key: String, phone: String? = nil, email: String? = nil, name: String? = nil, varsJSON: String? = nil,
        timeZone: String? = nil
    ) {
        self.key = key
        self.phone = phone
        self.email = email
        self.name = name
        self.varsJSON = varsJSON
        self.timeZone = timeZone
    }
}

/// A lead ready to store: its row and the messages its campaign's steps make of it.
@dynamicMemberLookup
public struct PreparedLead: Sendable, Equatable {
    public var lead: Lead
    public var messages: [NewMessage]

    public init(lead: Lead, messages: [NewMessage]) {
        self.lead = lead
        self.messages = messages
    }

    public subscript<T>(dynamicMember field: KeyPath<Lead, T>) -> T { lead[keyPath: field] }
}

/// A lead as stored.
@dynamicMemberLookup
public struct StoredLead: Sendable, Equatable {
    public var id: Int64
    public var lead: Lead
    public var createdAt: Int64

    public subscript<T>(dynamicMember field: KeyPath<Lead, T>) -> T { lead[keyPath: field] }
}
