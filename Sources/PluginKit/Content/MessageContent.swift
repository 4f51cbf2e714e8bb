import Foundation

/// A message's content as leadd hands it over (`content_json`): whatever of these fields the
/// channel needs. Campaign steps fill them from their templates; `message.send` callers write
/// them directly.
public struct MessageContent: Sendable, Equatable {
    /// A WhatsApp template: its approved name, language code and body parameters in order.
    public struct Template: Sendable, Equatable {
        public var name: String
        public var language: String
        public var parameters: [String]

        public init(name: String, language: String, parameters: [String]) {
            self.name = name
            self.language = language
            self.parameters = parameters
        }
    }

    public var text: String?
    public var subject: String?
    public var html: String?
    public var template: Template?
    /// The campaign's unsubscribe address, for e-mail's List-Unsubscribe.
    public var unsubscribeURL: String?

    /// Reads the JSON object; a malformed one is a permanent problem of the message.
    public init(json: String) throws(MessageProblem) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw MessageProblem("content is not a JSON object")
        }
        text = object["text"] as? String
        subject = object["subject"] as? String
        html = object["html"] as? String
        unsubscribeURL = object["unsubscribe_url"] as? String
        if let t = object["template"] as? [String: Any] {
            guard let name = t["name"] as? String, !name.isEmpty else {
                throw MessageProblem("content.template.name is missing")
            }
            let language = t["language"] as? String ?? "en_US"
            let parameters = (t["params"] as? [Any] ?? []).map { "\($0)" }
            template = Template(name: name, language: language, parameters: parameters)
        }
    }
}

/// Why one message cannot be sent as it is (a permanent failure of that message).
public struct MessageProblem: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
