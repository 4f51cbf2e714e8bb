import ArgumentParser
import Foundation
import LeaddProtocol

struct Senders: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sender",
        abstract: "Senders: the numbers and accounts a channel sends from, with their own limits.",
        subcommands: [Put.self, Get.self, List.self])

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a sender (settings laid over the channel's; secrets by reference only).")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Sender id.") var id: String
        @Option(help: "The channel it sends on.") var channel: String
        @Option(
            help: ArgumentHelp(
                "Plugin settings as a JSON object, like '{\"phone_number_id\": \"1055\", \"access_token\": {\"file\": \"/etc/leadd/acme\"}}'."
            ))
        var settings: String?
        @Option(help: "Rate limit, like 80/s.") var rate: String?
        @Option(help: "Burst allowed after a quiet spell.") var burst: Int?
        @Option(help: "Plugin calls in flight at once.") var concurrency: Int?

        func run() throws {
            var p = JSONObject(["id": .string(id), "channel": .string(channel)])
            if let settings {
                guard case .object(let object) = try? JSONValue.parse(settings) else {
                    throw ValidationError("--settings: not a JSON object")
                }
                p["settings"] = .object(object)
            }
            p["rate"] = rate.map { .string($0) }
            p["burst"] = burst.map { .integer(Int64($0)) }
            p["concurrency"] = concurrency.map { .integer(Int64($0)) }
            try options.call("sender.put", p) { print("sender \(text($0["id"])) stored") }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a sender, its breaker and calls in flight.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Sender id.") var id: String

        func run() throws {
            try options.call("sender.get", JSONObject(["id": .string(id)])) { s in
                for field in ["channel", "origin", "settings", "rate", "burst", "concurrency", "in_flight"] {
                    print("\(field.padding(toLength: 12, withPad: " ", startingAt: 0)) \(text(s[field]))")
                }
                print("breaker      \(text(s["breaker"]?["state"]))")
                if let until = s["breaker"]?["open_until"] {
                    print("open until   \(text(until)): \(text(s["breaker"]?["reason"]))")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List senders, declared and stored.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Only this channel's.") var channel: String?

        func run() throws {
            var p = JSONObject()
            p["channel"] = channel.map { .string($0) }
            try options.call("sender.list", p) { result in
                let rows = (result["senders"]?.arrayValue ?? []).map { s in
                    [
                        text(s["id"]), text(s["channel"]), text(s["origin"]), text(s["rate"]), text(s["concurrency"]),
                        text(s["breaker"]?["state"]), text(s["in_flight"]),
                    ]
                }
                printTable(["ID", "CHANNEL", "ORIGIN", "RATE", "CONCURRENCY", "BREAKER", "IN FLIGHT"], rows)
            }
        }
    }
}
