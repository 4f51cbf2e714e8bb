import ArgumentParser
import LeaddProtocol

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Queue one message.")
    @OptionGroup var options: CommonOptions

    @Option(help: "Tenant id.") var tenant: String
    @Option(help: "Channel name from the config.") var channel: String
    @Option(help: "Recipient: phone number or e-mail address.") var to: String
    @Option(help: "Message text.") var text: String?
    @Option(help: "E-mail subject.") var subject: String?
    @Option(help: "E-mail HTML body.") var html: String?
    @Option(help: "When to send (RFC 3339); default now.") var sendAt: String?
    @Option(help: "urgent, normal or bulk.") var priority: String?
    @Option(name: .customLong("key"), help: "Idempotency key: the same key twice stores one message.")
    var idempotencyKey: String?

    func validate() throws {
        if text == nil && html == nil { throw ValidationError("give --text or --html") }
    }

    func run() throws {
        var params = JSONObject(["tenant": .string(tenant), "channel": .string(channel), "to": .string(to)])
        params["text"] = text.map { .string($0) }
        params["subject"] = subject.map { .string($0) }
        params["html"] = html.map { .string($0) }
        params["send_at"] = sendAt.map { .string($0) }
        params["priority"] = priority.map { .string($0) }
        params["idempotency_key"] = idempotencyKey.map { .string($0) }
        try options.call("message.send", params) { result in
            if result["duplicate"]?.boolValue == true {
                print("already queued as message \(LeaddctlText.id(result))")
            } else {
                print("queued message \(LeaddctlText.id(result))")
            }
        }
    }
}

enum LeaddctlText {
    static func id(_ result: JSONValue) -> String { text(result["id"]) }
}
