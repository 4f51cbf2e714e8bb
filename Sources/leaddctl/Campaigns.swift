import ArgumentParser
import Foundation
import LeaddProtocol

struct Campaigns: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign", abstract: "Campaigns: steps sent to every lead imported into them.",
        subcommands: [Create.self, Get.self, List.self, Pause.self, Resume.self, Cancel.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a campaign from a JSON file (the campaign.create params; - for stdin).")
        @OptionGroup var options: CommonOptions
        @Argument(help: "JSON file.") var file: String

        func run() throws {
            let data: Data
            do {
                data =
                    file == "-"
                    ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                printError("leaddctl: cannot read \(file): \(error.localizedDescription)")
                throw CtlExit(code: CtlExit.usage)
            }
            guard case .object(let params)? = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
                printError("leaddctl: \(file) is not a JSON object")
                throw CtlExit(code: CtlExit.usage)
            }
            try options.call("campaign.create", params) { print("campaign \(text($0["id"])) created") }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a campaign and its message counts.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Campaign id.") var id: String

        func run() throws {
            try options.call("campaign.get", JSONObject(["id": .string(id)])) { c in
                print("id:        \(text(c["id"]))\ntenant:    \(text(c["tenant"]))\nname:      \(text(c["name"]))")
                print(
                    "state:     \(text(c["state"]))\npriority:  \(text(c["priority"]))\nschedule:  \(text(c["schedule"]))"
                )
                print("rate:      \(text(c["rate"]))")
                for (i, step) in (c["steps"]?.arrayValue ?? []).enumerated() {
                    let when =
                        step["at"].map { "at \(text($0))" } ?? step["delay_ms"].map { "after \(text($0)) ms" }
                        ?? "at start"
                    print(
                        "step \(i + 1):    \(text(step["channel"])) \(when)\(step["fallback"].map { ", fallback \(text($0))" } ?? "")"
                    )
                }
                if case .object(let counts)? = c["messages"] {
                    print("messages:  " + counts.map { "\($0.key) \(text($0.value))" }.joined(separator: ", "))
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List campaigns.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Only this tenant.") var tenant: String?
        @Option(help: "Start after this campaign id.") var after: String?
        @Option(help: "At most this many.") var limit = 100

        func run() throws {
            var p = JSONObject(["limit": .integer(Int64(limit))])
            p["tenant"] = tenant.map { .string($0) }
            p["after"] = after.map { .string($0) }
            try options.call("campaign.list", p) { result in
                let rows = (result["campaigns"]?.arrayValue ?? []).map {
                    [
                        text($0["id"]), text($0["tenant"]), text($0["name"]), text($0["state"]),
                        String($0["steps"]?.arrayValue?.count ?? 0),
                    ]
                }
                printTable(["ID", "TENANT", "NAME", "STATE", "STEPS"], rows)
                if let next = result["next"] { print("more: leaddctl campaign list --after \(text(next))") }
            }
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a campaign's sends; resume picks up where it stopped.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        func run() throws { try change(options, "pause", id, count: "paused", "messages held") }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused campaign.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        func run() throws { try change(options, "resume", id, count: "resumed", "messages queued again") }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel every unsent message of a campaign.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Campaign id.") var id: String
        func run() throws { try change(options, "cancel", id, count: "cancelled", "unsent messages cancelled") }
    }

    /// campaign.pause, .resume or .cancel, and a line saying what moved.
    static func change(_ options: CommonOptions, _ verb: String, _ id: String, count: String, _ what: String) throws {
        try options.call("campaign.\(verb)", JSONObject(["id": .string(id)])) {
            print("campaign \(id) \(count); \(text($0[count])) \(what)")
        }
    }
}
