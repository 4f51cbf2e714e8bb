// Kannel's sendsms HTTP interface (smsbox): GET {base_url}?username=&password=&to=&text=...
// See Kannel's user guide, "Sending SMS via HTTP" (https://www.kannel.org/userguide.shtml).
//
// Settings: username (required), password (secret, required), from (optional sender), smsc
// (optional route), base_url (default http://127.0.0.1:13013/cgi-bin/sendsms), dlr_mask and
// dlr_url (optional delivery reports; `{id}` in dlr_url becomes leadd's message id).
//
// Text goes as UTF-8 with coding=0 (GSM 7-bit) when every character is in the GSM alphabet,
// else coding=2 (UCS-2), so accents that GSM lacks and emoji arrive intact.
//
// Results (smsbox's replies):
//   202 "0: Accepted for delivery" / "3: Queued for later delivery"   delivered
//   403 "Authorization failed"                                         channel unavailable
//   400 (missing/invalid receiver, sender, text)                        failed
//   503 "Sending failed" / other 5xx                                    channel unavailable
import Foundation
import PluginAPI
import PluginKit

struct KannelProvider: TransferProvider {
    let base: String
    let credentials: [(String, String)]
    let sender: String?
    let smsc: String?
    let dlrMask: Int?
    let dlrURL: String?

    init(settings: inout PluginSettings) throws(PluginSetupError) {
        let username = try settings.requiredString("username")
        let password = try settings.requiredSecret("password")
        credentials = [("username", username), ("password", password)]
        base = try settings.string("base_url") ?? "http://127.0.0.1:13013/cgi-bin/sendsms"
        sender = try settings.string("from")
        smsc = try settings.string("smsc")
        dlrMask = try settings.integer("dlr_mask", in: 1...31)
        dlrURL = try settings.string("dlr_url")
        if dlrURL != nil && dlrMask == nil { throw settings.problem("dlr_mask", "required with dlr_url (e.g. 31)") }
    }

    func request(for message: PluginMessage) throws(MessageProblem) -> TransferRequest {
        let content = try MessageContent(json: message.contentJSON)
        guard let text = content.text, !text.isEmpty else { throw MessageProblem("content.text is missing") }
        var fields = credentials + [("to", message.to), ("text", text), ("charset", "UTF-8")]
        fields.append(("coding", GSMAlphabet.contains(text) ? "0" : "2"))
        if let sender { fields.append(("from", sender)) }
        if let smsc { fields.append(("smsc", smsc)) }
        if let dlrMask, let dlrURL {
            fields.append(("dlr-mask", String(dlrMask)))
            fields.append(("dlr-url", dlrURL.replacing("{id}", with: FormEncoding.escape(message.id))))
        }
        let separator = base.contains("?") ? "&" : "?"
        return TransferRequest(url: base + separator + FormEncoding.encode(fields), method: .get)
    }

    func classify(_ response: TransferResponse, for message: PluginMessage) -> PluginResult {
        if let failure = response.failure { return failure.result }
        let reply = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = "Kannel \(response.status): \(reply)"
        switch response.status {
        case 200..<300: return .delivered(providerID: nil)
        case 403: return .channelUnavailable(detail)
        default: return HTTPStatusRule.result(for: response, detail: detail)
        }
    }
}
