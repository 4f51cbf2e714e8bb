import Foundation
import PluginAPI
import PluginKit

/// Submits each message over SMTP and reads the server's reply codes (RFC 5321 §4.2).
///
/// | reply / failure                          | result                                   |
/// |------------------------------------------|------------------------------------------|
/// | 250 after DATA                           | delivered, provider id = the Message-ID  |
/// | 421 (service closing)                    | channel unavailable, paused `rate_pause` |
/// | 450/451/452 saying rate or too many      | channel unavailable, paused `rate_pause` |
/// | other 4xx (450, 451, 452 ...)            | retry                                    |
/// | 530, 534, 535, 538 / AUTH refused        | channel unavailable (credentials)        |
/// | other 5xx (550, 553, 554 ...)            | failed (this recipient or content)       |
/// | connection refused, DNS, TLS, timeout    | channel unavailable                      |
struct SMTPProvider: TransferProvider {
    let url: String
    let tls: MailEnvelope.TLS
    let user: String?
    let password: String?
    let mechanism: String?
    let composer: MailComposer
    /// How long a server that asked us to slow down (421, or a 4xx rate reply) is left alone, in ms.
    let ratePause: Int64

    /// Words of a 4xx reply that speak of the sending rate (the account), not of the recipient:
    /// "4.7.0 Too many messages", "rate limit exceeded", "throttled". Greylisting ("try again
    /// later") is about one message and stays a retry.
    static let rateWords = ["rate", "too many", "throttl", "exceeded"]

    init(settings: inout PluginSettings) throws(PluginSetupError) {
        url = try settings.requiredString("url")
        guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://") else {
            throw settings.problem("url", "expected smtp://host:port or smtps://host:port")
        }
        let policy = try settings.choice("tls", ["required", "opportunistic", "none"]) ?? "required"
        tls = MailEnvelope.TLS(rawValue: policy) ?? .required
        user = try settings.string("username")
        password = try settings.secret("password")
        if (user == nil) != (password == nil) {
            throw settings.problem(user == nil ? "username" : "password", "username and password go together")
        }
        mechanism = try settings.choice("auth", ["PLAIN", "LOGIN"])
        guard let from = MailAddress(try settings.requiredString("from")) else {
            throw settings.problem("from", "expected \"Name <address>\" or an address")
        }
        let replyTo = try settings.string("reply_to")
        if let replyTo, MailAddress(replyTo) == nil { throw settings.problem("reply_to", "not an e-mail address") }
        ratePause = Int64(try settings.duration("rate_pause") ?? 60_000)
        let domain = try settings.string("message_id_domain") ?? from.domain
        composer = MailComposer(from: from, replyTo: replyTo.flatMap(MailAddress.init), messageIDDomain: domain)
    }

    func request(for message: PluginMessage) throws(MessageProblem) -> TransferRequest {
        guard let to = MailAddress(message.to), to.name == nil else {
            throw MessageProblem("'\(message.to)' is not an e-mail address")
        }
        let content = try MessageContent(json: message.contentJSON)
        let mail = try composer.compose(to: to, content: content, key: message.idempotencyKey, tenant: message.tenant)
        return TransferRequest(
            url: url, body: mail, user: user, password: password,
            envelope: MailEnvelope(
                from: composer.from.address, recipients: [to.address], tls: tls, mechanism: mechanism))
    }

    func classify(_ response: TransferResponse, for message: PluginMessage) -> PluginResult {
        guard let failure = response.failure else {
            return .delivered(providerID: composer.messageID(key: message.idempotencyKey, tenant: message.tenant))
        }
        let detail = "SMTP: \(failure.message)"
        switch (failure.kind, response.status) {
        case (.login, _), (_, 530), (_, 534), (_, 535), (_, 538):
            return .channelUnavailable("SMTP authentication refused: \(failure.message)")
        case (.refused, 421): return .channelUnavailable(detail, afterMilliseconds: ratePause)
        case (.refused, 400..<500):
            let text = failure.message.lowercased()
            if Self.rateWords.contains(where: { text.contains($0) }) {
                return .channelUnavailable(detail, afterMilliseconds: ratePause)
            }
            return .retry(detail)
        case (.refused, 500..<600): return .failed(detail)
        default: return failure.result
        }
    }
}
