import Foundation
import PluginAPI
import PluginKit

/// Builds Cloud API send requests and reads their replies.
struct CloudAPIProvider: TransferProvider {
    let url: String
    let headers: [String]

    init(settings: inout PluginSettings) throws(PluginSetupError) {
        let phoneNumberID = try settings.requiredString("phone_number_id")
        let token = try settings.requiredSecret("access_token")
        let version = try settings.string("api_version") ?? "v23.0"
        guard version.hasPrefix("v") else { throw settings.problem("api_version", "expected a version such as v23.0") }
        var base = try settings.string("base_url") ?? "https://graph.facebook.com"
        if base.hasSuffix("/") { base.removeLast() }
        url = "\(base)/\(version)/\(phoneNumberID)/messages"
        headers = [
            "Authorization: Bearer \(token)", "Content-Type: application/json", "Accept: application/json",
            "User-Agent: leadd-whatsapp/1.0.0",
        ]
    }

    func request(for message: PluginMessage) throws(MessageProblem) -> TransferRequest {
        let content = try MessageContent(json: message.contentJSON)
        let to = message.to.hasPrefix("+") ? String(message.to.dropFirst()) : message.to
        var body: [String: Any] = ["messaging_product": "whatsapp", "recipient_type": "individual", "to": to]
        if let template = content.template {
            var spec: [String: Any] = [
                "name": template.name, "language": ["code": template.language, "policy": "deterministic"],
            ]
            if !template.parameters.isEmpty {
                let parameters = template.parameters.map { ["type": "text", "text": $0] }
                spec["components"] = [["type": "body", "parameters": parameters]]
            }
            body["type"] = "template"
            body["template"] = spec
        } else if let text = content.text, !text.isEmpty {
            guard text.count <= 4096 else { throw MessageProblem("content.text is longer than 4096 characters") }
            body["type"] = "text"
            body["text"] = ["preview_url": false, "body": text]
        } else {
            throw MessageProblem("content has neither template nor text")
        }
        let json = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        guard let json else { throw MessageProblem("content cannot be encoded as JSON") }
        return TransferRequest(url: url, headers: headers, body: Array(json))
    }

    func classify(_ response: TransferResponse, for message: PluginMessage) -> PluginResult {
        if let failure = response.failure { return failure.result }
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        if (200..<300).contains(response.status) {
            let id = ((body?["messages"] as? [[String: Any]])?.first?["id"]) as? String
            guard let id else { return .retry("Cloud API answered \(response.status) without a message id") }
            return .delivered(providerID: id)
        }
        return CloudAPIError(response: response, body: body).result
    }
}
