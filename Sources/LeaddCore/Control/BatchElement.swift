// One request of a JSON-RPC batch. An import is a thousand `message.send` requests a line, and
// building a JSON tree for each (then looking its fields up by name) was most of the request
// threads' work, so plain sends are read straight from the bytes: envelope and parameter names
// written without escapes, parameters that are strings or null. Anything else is declined and
// parsed the general way, so answers and errors are the same either way.
import LeaddProtocol

enum BatchElement {
    /// A `message.send` read from the bytes: its id (nil for a notification) and parameters.
    case send(id: JSONValue?, fields: SendFields)
    /// Any other element, parsed.
    case other(JSONValue)

    /// Reads a plain `message.send` at the reader's position; nil declines the element.
    static func readSend(_ reader: inout JSONReader) -> BatchElement? {
        guard reader.consume(UInt8(ascii: "{")) else { return nil }
        var id: JSONValue?
        var fields: SendFields?
        var version = false
        var method = false
        repeat {
            if reader.consumeString("jsonrpc") {
                guard colon(&reader), reader.consumeString("2.0") else { return nil }
                version = true
            } else if reader.consumeString("id") {
                guard colon(&reader), let value = reader.readValue(depth: 2) else { return nil }
                switch value {
                case .string, .integer, .number, .null: id = value
                default: return nil
                }
            } else if reader.consumeString("method") {
                guard colon(&reader), reader.consumeString("message.send") else { return nil }
                method = true
            } else if reader.consumeString("params") {
                guard colon(&reader), let read = readParams(&reader) else { return nil }
                fields = read
            } else {
                return nil
            }
            reader.skipWhitespace()
        } while reader.consume(UInt8(ascii: ","))
        guard reader.current == UInt8(ascii: "}"), version, method, let fields else { return nil }
        _ = reader.consume(UInt8(ascii: "}"))
        return .send(id: id, fields: fields)
    }

    private static func readParams(_ reader: inout JSONReader) -> SendFields? {
        guard reader.consume(UInt8(ascii: "{")) else { return nil }
        var fields = SendFields()
        if reader.consume(UInt8(ascii: "}")) { return fields }
        repeat {
            guard let slot = SendFields.slot(named: &reader), colon(&reader) else { return nil }
            if reader.consumeNull() {
                fields[keyPath: slot] = .null
            } else if let text = reader.readString() {
                fields[keyPath: slot] = .string(text)
            } else {
                return nil
            }
            reader.skipWhitespace()
        } while reader.consume(UInt8(ascii: ","))
        guard reader.consume(UInt8(ascii: "}")) else { return nil }
        return fields
    }

    private static func colon(_ reader: inout JSONReader) -> Bool {
        reader.skipWhitespace()
        return reader.consume(UInt8(ascii: ":"))
    }
}

/// The parameters of one `message.send` as given, before they are checked.
struct SendFields {
    var tenant: JSONValue?
    var channel: JSONValue?
    var to: JSONValue?
    var text: JSONValue?
    var subject: JSONValue?
    var html: JSONValue?
    var template: JSONValue?
    var sendAt: JSONValue?
    var priority: JSONValue?
    var idempotencyKey: JSONValue?
    var timezone: JSONValue?

    init() {}

    /// Built once: a set literal at the call would hash every name again for each message.
    static let names: Set<String> = [
        "tenant", "channel", "to", "text", "template", "subject", "html", "send_at", "priority", "idempotency_key",
        "timezone",
    ]

    /// From a request's params; a name `message.send` does not know is refused.
    init(checking params: JSONObject) throws(RPCError) {
        _ = try Params(params, allowed: Self.names)
        tenant = params["tenant"]
        channel = params["channel"]
        to = params["to"]
        text = params["text"]
        subject = params["subject"]
        html = params["html"]
        template = params["template"]
        sendAt = params["send_at"]
        priority = params["priority"]
        idempotencyKey = params["idempotency_key"]
        timezone = params["timezone"]
    }

    /// The field a parameter name read from the bytes stands for. `template` is not among them:
    /// its value is an object, which the general path reads.
    static func slot(named reader: inout JSONReader) -> WritableKeyPath<SendFields, JSONValue?>? {
        if reader.consumeString("tenant") { return \.tenant }
        if reader.consumeString("channel") { return \.channel }
        if reader.consumeString("to") { return \.to }
        if reader.consumeString("text") { return \.text }
        if reader.consumeString("idempotency_key") { return \.idempotencyKey }
        if reader.consumeString("send_at") { return \.sendAt }
        if reader.consumeString("subject") { return \.subject }
        if reader.consumeString("html") { return \.html }
        if reader.consumeString("priority") { return \.priority }
        if reader.consumeString("timezone") { return \.timezone }
        return nil
    }
}
