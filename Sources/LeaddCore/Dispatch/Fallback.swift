// A campaign step's fallback: a message its provider refused for good (failed), or one whose
// channel has been down longer than `breaker.fallback_after`, is sent once more on the step's
// fallback channel, to the lead's address for that channel. The new message's key
// is the original's with `:fallback`, so it is made once however often this runs, and it has no
// step of its own, so it never falls back again.
import LeaddProtocol

struct Fallback {
    let rules: SendRules
    let store: any QueueStore
    let addressKind: @Sendable (String) -> AddressKind

    /// The fallback channel of the message's campaign step, if it has one.
    func channel(for message: ClaimedMessage) -> String? {
        guard let id = message.campaign, let stepNumber = message.step, let campaign = rules.campaigns.campaign(id),
            campaign.steps.indices.contains(stepNumber - 1)
        else { return nil }
        return campaign.steps[stepNumber - 1].fallback
    }

    /// The fallback messages for those of `batch` whose step has a fallback channel (and whose
    /// lead has an address for it), by the original message's id.
    func messages(for batch: [ClaimedMessage], now: Int64) async -> [Int64: NewMessage] {
        var made: [Int64: NewMessage] = [:]
        for message in batch {
            guard let id = message.campaign, let channel = channel(for: message) else { continue }
            var to = message.to
            let kind = addressKind(channel)
            if kind != addressKind(message.channel) {
                guard let leadID = message.leadID, let lead = try? await store.lead(id: leadID),
                    let address = kind == .email ? lead.email : lead.phone
                else { continue }
                to = address
            }
            var fallback = NewMessage(
                tenant: message.tenant, channel: channel, to: to, contentJSON: message.contentJSON, dueAt: now,
                priority: message.priority, idempotencyKey: message.idempotencyKey + ":fallback",
                timeZone: message.timeZone)
            fallback.campaign = id
            fallback.leadID = message.leadID
            made[message.id] = fallback
        }
        return made
    }
}
