import PluginAPI
import PluginKit

/// A Graph API error reply, `{"error": {"message", "type", "code", "error_subcode", ...}}`, and what
/// it means for the message. Codes from Meta's "Error codes" reference for the Cloud API
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
///
/// | code(s)                                        | meaning                           | result              |
/// |------------------------------------------------|-----------------------------------|---------------------|
/// | 0, 3, 10, 104, 190, 200-299                    | token or permission refused       | channel unavailable |
/// | 100 with subcode 33 (GraphMethodException)     | phone_number_id unknown to token  | channel unavailable |
/// | 131005, 131031, 131042, 131045, 133000-133010  | account or number not usable      | channel unavailable |
/// | 368, 131048                                    | blocked (policy), spam-limited    | channel unavailable |
/// | 131016                                         | service unavailable               | channel unavailable |
/// | 4, 80007, 130429                               | app, account or throughput limit  | channel unavailable (Retry-After) |
/// | 1, 2, 131000                                   | unknown / temporary (with 5xx)    | channel unavailable |
/// | 131056                                         | pair rate limit (this recipient)  | retry (Retry-After) |
/// | 100, 131008, 131009, 131021, 131026, 131047, 131051-131053, 132000-132016, 130497, 135000 | this message or recipient | failed |
/// | anything else                                  | by HTTP status (HTTPStatusRule)   |                     |
struct CloudAPIError {
    let code: Int?
    let result: PluginResult

    init(response: TransferResponse, body: [String: Any]?) {
        let error = body?["error"] as? [String: Any]
        let code = error?["code"] as? Int
        self.code = code
        var detail = "Cloud API \(response.status)"
        if let code { detail += " error \(code)" }
        if let message = error?["message"] as? String { detail += ": \(message)" }
        if let details = (error?["error_data"] as? [String: Any])?["details"] as? String { detail += " (\(details))" }
        let wait = RetryAfter.milliseconds(response.header("retry-after"))
        let subcode = error?["error_subcode"] as? Int
        switch code ?? -1 {
        case 100 where subcode == 33 || error?["type"] as? String == "GraphMethodException":
            result = .channelUnavailable("check phone_number_id: \(detail)")
        case 0, 3, 10, 104, 190, 200...299, 131005, 131031, 131042, 131045, 133000...133010, 368, 131016, 131048,
            4, 80007, 130429, 1, 2, 131000:
            result = .channelUnavailable(detail, afterMilliseconds: wait)
        case 131056:
            result = .retry(detail, afterMilliseconds: wait)
        case 100, 131008, 131009, 131021, 131026, 131047, 131051...131053, 132000...132016, 130497, 135000:
            result = .failed(detail)
        default:
            result = HTTPStatusRule.result(for: response, detail: detail)
        }
    }
}
