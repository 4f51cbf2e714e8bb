import ArgumentParser
import Foundation
import LeaddClient
import LeaddProtocol

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events as they happen: sent, failed, retried, dead, reload.",
        discussion: "Runs until interrupted. With --json, one event object per line.")
    @OptionGroup var options: CommonOptions

    @Option(name: .customLong("type"), help: "Only these event types (repeatable).")
    var types: [String] = []
    @Option(help: "Only this channel.") var channel: String?
    @Option(help: "Only this tenant.") var tenant: String?

    func run() throws {
        var params = JSONObject()
        if !types.isEmpty { params["types"] = .array(types.map { .string($0) }) }
        params["channel"] = channel.map { .string($0) }
        params["tenant"] = tenant.map { .string($0) }
        let client = try options.connect()
        do {
            try client.writeLine(ControlClient.request("events.subscribe", params, id: 1).serialized)
        } catch {
            throw options.exit(error)
        }
        while true {
            let line: JSONValue
            do {
                line = try client.readResponse()
            } catch {
                throw options.exit(error)
            }
            if let error = line["error"] {
                printError("leaddctl: events.subscribe refused: \(text(error["message"]))")
                throw CtlExit(code: CtlExit.refused)
            }
            // The subscription's answer comes within the timeout; events then come when they happen.
            if line["result"] != nil { client.timeout = nil }
            guard line["method"] == "event", let event = line["params"] else { continue }
            if options.json {
                print(event.serialized)
            } else {
                let fields = [
                    text(event["at"]), text(event["type"]), text(event["channel"]), text(event["tenant"]),
                    event["message_id"].map { "message \(text($0))" } ?? "-", text(event["detail"]),
                ]
                print(fields.joined(separator: "  "))
            }
            fflush(nil)
        }
    }
}
