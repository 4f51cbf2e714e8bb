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
        let client: ControlClient
        do {
            client = try ControlClient(socketPath: options.socket)
            try client.writeLine(ControlClient.request("events.subscribe", params, id: 1).serialized)
        } catch {
            printError("leaddctl: \(error.description)")
            throw CtlExit(code: CtlExit.unreachable)
        }
        while true {
            let line: JSONValue
            do {
                line = try client.readResponse()
            } catch {
                printError("leaddctl: \(error.description)")
                throw CtlExit(code: CtlExit.unreachable)
            }
            if let error = line["error"] {
                printError("leaddctl: events.subscribe refused: \(text(error["message"]))")
                throw CtlExit(code: CtlExit.refused)
            }
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
