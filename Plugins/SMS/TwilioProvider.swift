// Twilio's Messages API: POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json,
// form-encoded, HTTP basic auth with the account SID (or an API key SID) and its secret.
//
// Settings: account_sid (required), auth_token (secret, required), api_key_sid (optional: sign
// in with an API key instead of the account SID), from or messaging_service_sid (one required),
// status_callback (optional URL), base_url (default https://api.twilio.com).
//
// Results (Twilio's error reference, https://www.twilio.com/docs/api/errors): the body's `code`
// decides first, the HTTP status (PluginKit's HTTPStatusRule) when there is none.
//   201 with a Message resource                delivered, provider id = its sid (SM...)
//   20003 (401)                                channel unavailable: credentials refused
//   21603 (no From or MessagingServiceSid)     channel unavailable: our configuration
//   20429 (429)                                channel unavailable, after Retry-After
//   21211 21614 21610 21612 21408 21602 (400)  failed: this recipient or content
//   20500 (500), 20503 (503), other 5xx        channel unavailable (after a 500 Twilio may
//                                              have sent it; its send API takes no idempotency key)
//   other 4xx                                  failed
import Foundation
import PluginAPI
import PluginKit

struct TwilioProvider: TransferProvider {
    let url: String
    let user: String
    let token: String
    let sender: (field: String, value: String)
    let statusCallback: String?

    init(settings: inout PluginSettings) throws(PluginSetupError) {
        let account = try settings.requiredString("account_sid")
        token = try settings.requiredSecret("auth_token")
        user = try settings.string("api_key_sid") ?? account
        let base = try settings.string("base_url") ?? "https://api.twilio.com"
        url = "\(base.trimmingSuffix("/"))/2010-04-01/Accounts/\(FormEncoding.escape(account))/Messages.json"
        if let from = try settings.string("from") {
            sender = ("From", from)
        } else if let service = try settings.string("messaging_service_sid") {
            sender = ("MessagingServiceSid", service)
        } else {
            throw settings.problem("from", "required (or messaging_service_sid)")
        }
        statusCallback = try settings.string("status_callback")
    }

    func request(for message: PluginMessage) throws(MessageProblem) -> TransferRequest {
        let content = try MessageContent(json: message.contentJSON)
        guard let text = content.text, !text.isEmpty else { throw MessageProblem("content.text is missing") }
        var fields = [("To", message.to), sender, ("Body", text)]
        if let statusCallback { fields.append(("StatusCallback", statusCallback)) }
        return TransferRequest(
            url: url,
            headers: ["Content-Type: application/x-www-form-urlencoded", "Accept: application/json"],
            body: Array(FormEncoding.encode(fields).utf8), user: user, password: token)
    }

    func classify(_ response: TransferResponse, for message: PluginMessage) -> PluginResult {
        if let failure = response.failure { return failure.result }
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        if (200..<300).contains(response.status) {
            guard let sid = body?["sid"] as? String else {
                return .retry("Twilio answered \(response.status) without a message sid")
            }
            return .delivered(providerID: sid)
        }
        let code = body?["code"] as? Int
        let detail =
            "Twilio \(response.status)" + (code.map { " error \($0)" } ?? "")
            + ((body?["message"] as? String).map { ": \($0)" } ?? "")
        switch code {
        case 20003, 21603: return .channelUnavailable(detail)
        case 20429:
            return .channelUnavailable(
                detail, afterMilliseconds: RetryAfter.milliseconds(response.header("retry-after")))
        case 21211, 21614, 21610, 21612, 21408, 21602: return .failed(detail)
        default: return HTTPStatusRule.result(for: response, detail: detail)
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
