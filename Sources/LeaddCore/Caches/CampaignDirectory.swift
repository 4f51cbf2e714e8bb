import LeaddSync

// Every campaign that is not cancelled, mirrored in memory: the send path needs a campaign's
// state, rate, window and fallback for each message, and lead import its steps. Changed by the
// same writes that change the store.

public final class CampaignDirectory: Sendable {
    private let campaigns = Locked<[String: Campaign]>([:])

    public init() {}

    public func load(_ list: [Campaign]) {
        campaigns.withLock { c in for campaign in list where campaign.state != .cancelled { c[campaign.id] = campaign }
        }
    }

    public func put(_ campaign: Campaign) {
        campaigns.withLock { $0[campaign.id] = campaign.state == .cancelled ? nil : campaign }
    }

    public func setState(_ id: String, _ state: CampaignState) {
        campaigns.withLock { c in
            if state == .cancelled { c[id] = nil } else { c[id]?.state = state }
        }
    }

    public func campaign(_ id: String) -> Campaign? { campaigns.withLock { $0[id] } }

    public var count: Int { campaigns.withLock { $0.count } }
}
