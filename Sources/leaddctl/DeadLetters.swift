import ArgumentParser
import LeaddProtocol

struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "Dead letters: messages whose retries ran out.",
        subcommands: [List.self, Retry.self, Purge.self])

    /// Which dead letters a command is about.
    struct Filter: ParsableArguments {
        @Argument(help: "Message ids (none: every one the other filters match).") var ids: [String] = []
        @Option(help: "Only this tenant.") var tenant: String?
        @Option(help: "Only this channel.") var channel: String?
        @Option(help: "Only this campaign.") var campaign: String?
        @Option(help: "Only messages whose last error contains this text.") var error: String?

        var params: JSONObject {
            var p = JSONObject()
            if !ids.isEmpty { p["ids"] = .array(ids.map { .string($0) }) }
            p["tenant"] = tenant.map { .string($0) }
            p["channel"] = channel.map { .string($0) }
            p["campaign"] = campaign.map { .string($0) }
            p["error"] = error.map { .string($0) }
            return p
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters.")
        @OptionGroup var options: CommonOptions
        @OptionGroup var filter: Filter
        @Option(help: "At most this many (1-1000).") var limit = 100
        @Option(help: "Start after this message id (the `next` of a previous page).") var after: String?

        func run() throws {
            var params = filter.params
            params["limit"] = .integer(Int64(limit))
            params["after"] = after.map { .string($0) }
            try options.call("dlq.list", params) { result in
                let rows = (result["messages"]?.arrayValue ?? []).map { m in
                    [
                        text(m["id"]), text(m["tenant"]), text(m["channel"]), text(m["to"]), text(m["dead_at"]),
                        text(m["last_error"]),
                    ]
                }
                printTable(["ID", "TENANT", "CHANNEL", "TO", "DEAD AT", "LAST ERROR"], rows)
                if let next = result["next"] { print("more: leaddctl dlq list --after \(text(next))") }
            }
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters again, with their tries counted from zero (doing it twice is harmless).")
        @OptionGroup var options: CommonOptions
        @OptionGroup var filter: Filter

        func run() throws {
            try options.call("dlq.retry", filter.params) { result in print("retried \(text(result["retried"]))") }
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give up on dead letters for good (they are kept as cancelled, so nothing resends them).")
        @OptionGroup var options: CommonOptions
        @OptionGroup var filter: Filter
        @Flag(help: "Purge every dead letter; needed when no filter is given.") var all = false

        func validate() throws {
            if filter.params.count == 0 && !all {
                throw ValidationError("give ids or a filter, or --all to purge every dead letter")
            }
        }

        func run() throws {
            var params = filter.params
            if all { params["all"] = .bool(true) }
            try options.call("dlq.purge", params) { result in print("purged \(text(result["purged"]))") }
        }
    }
}
