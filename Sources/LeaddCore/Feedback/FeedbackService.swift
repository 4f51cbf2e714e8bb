// What providers and leads tell leadd after a send, transport-free: WebhookServer turns HTTP
// callbacks into these calls. Receipts move messages to delivered / read / undelivered; an
// inbound opt-out word, or a one-click unsubscribe, suppresses the address for its tenant and
// cancels what was still to be sent to it. Each is published as an event and counted.
import Foundation
import LeaddProtocol
import Logging

public final class FeedbackService: Sendable {
    let runtime: DaemonRuntime
    let logger: Logger

    public init(runtime: DaemonRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    /// Applies a receipt; nil when it names no message leadd knows.
    public func receipt(_ receipt: Receipt) async throws -> ReceiptApplied? {
        guard let applied = try await runtime.store.applyReceipt(receipt) else { return nil }
        runtime.metrics.recordReceipt(channel: applied.channel, status: receipt.status.rawValue)
        if applied.state == .undelivered, applied.campaign != nil { try await fallBack(applied.id, at: receipt.at) }
        _ = runtime.events.publish([
            LeaddEvent(
                type: "receipt", at: receipt.at, channel: applied.channel, tenant: applied.tenant,
                messageID: applied.id,
                detail: [receipt.status.rawValue, receipt.detail].compactMap { $0 }.joined(separator: ": "))
        ])
        return applied
    }

    /// A campaign message the provider could not deliver goes once to its step's fallback channel,
    /// as a permanent failure would (the fallback's key makes a repeated receipt store nothing).
    private func fallBack(_ id: Int64, at now: Int64) async throws {
        guard let message = try await runtime.store.message(id: id) else { return }
        let runtime = self.runtime
        let fallback = Fallback(rules: runtime.rules, store: runtime.store) { runtime.addressKind(channel: $0) }
        let made = await fallback.messages(for: [message.claimed], now: now)
        guard !made.isEmpty else { return }
        _ = try await runtime.store.enqueue(Array(made.values), now: now)
        for m in made.values { logger.notice("undelivered message \(id) falls back to channel \(m.channel)") }
    }

    /// Publishes an inbound message and, when it is an opt-out word, unsubscribes its sender from
    /// the tenant it wrote to: the one whose own sender has the number it was sent to, else the
    /// one that last wrote to it. Returns the opt-out, if there was one.
    public func inbound(_ message: InboundMessage) async throws -> OptOutApplied? {
        let address = normalized(message.from, channel: message.channel)
        var tenant = message.to.flatMap { owner(of: $0, channel: message.channel) }
        if tenant == nil { tenant = try await runtime.store.lastSender(to: address, channel: message.channel) }
        _ = runtime.events.publish([
            LeaddEvent(
                type: "inbound", at: message.at, channel: message.channel, tenant: tenant,
                detail: "from \(address): \(message.text.prefix(500))")
        ])
        guard let tenant else { return nil }
        // The tenant's own words count besides the installation's.
        var words = runtime.config.current.webhooks?.optOutKeywords ?? WebhookConfig().optOutKeywords
        for (language, own) in runtime.rules.settings(for: tenant, runtime.config).optOutKeywords {
            words[language, default: []] += own
        }
        guard OptOutKeywords(words).matches(message.text) else { return nil }
        return try await optOut(
            tenant: tenant, address: address, channel: message.channel, at: message.at,
            reason: "opted out by replying '\(message.text.prefix(40))'")
    }

    /// The tenant whose sender on `channel` sends from `number` (its `from`, `phone_number_id` or
    /// `display_phone_number` setting, digits compared), when exactly one tenant is bound to it.
    func owner(of number: String, channel: String) -> String? {
        let digits = number.filter(\.isNumber)
        guard !digits.isEmpty else { return nil }
        let config = runtime.config.current
        for sender in runtime.rules.senders.senders(channel: channel, config: config) {
            guard case .object(let settings) = try? JSONValue.parse(sender.settingsJSON) else { continue }
            let identities = ["from", "phone_number_id", "display_phone_number"].compactMap {
                settings[$0]?.stringValue?.filter(\.isNumber)
            }
            guard identities.contains(digits),
                let tenants = runtime.rules.tenants.bound(to: sender.id, config: config), tenants.count == 1
            else { continue }
            return tenants.first
        }
        return nil
    }

    /// A one-click unsubscribe (RFC 8058) for the address its token names.
    public func unsubscribe(token: String) async throws -> OptOutApplied? {
        guard let secret = runtime.config.current.webhooks?.unsubscribeSecret,
            let (tenant, address) = UnsubscribeToken.read(token, secret: secret)
        else { return nil }
        return try await optOut(
            tenant: tenant, address: address, channel: "email", at: runtime.clock.nowMilliseconds(),
            reason: "unsubscribed with the one-click link")
    }

    private func optOut(tenant: String, address: String, channel: String, at: Int64, reason: String) async throws
        -> OptOutApplied
    {
        let cancelled = try await runtime.store.optOut(tenant: tenant, address: address, reason: reason, now: at)
        runtime.rules.suppressions.add(tenant: tenant, address: address)
        runtime.metrics.recordOptOut(channel: channel)
        _ = runtime.events.publish([
            LeaddEvent(
                type: "opt-out", at: at, channel: channel, tenant: tenant,
                detail: "\(address): \(reason); \(cancelled) unsent messages cancelled")
        ])
        logger.info(
            "opt-out: \(address) for tenant \(tenant) (\(reason)); \(cancelled) unsent messages cancelled")
        return OptOutApplied(tenant: tenant, address: address, cancelled: cancelled)
    }

    /// The form leads' addresses are stored in: E.164 for numbers (WhatsApp sends digits only).
    func normalized(_ address: String, channel: String) -> String {
        if address.contains("@") { return LeadAddress.email(address) ?? address.lowercased() }
        let digits = address.filter(\.isNumber)
        return digits.isEmpty ? address : "+" + digits
    }
}
