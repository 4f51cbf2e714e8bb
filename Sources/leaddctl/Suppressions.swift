import ArgumentParser
import LeaddProtocol

struct Suppressions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suppression", abstract: "Addresses a tenant must not contact.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suppress an address (phone or e-mail).")
        @OptionGroup var options: CommonOptions
        @Option(help: "Tenant id.") var tenant: String
        @Argument(help: "Phone number or e-mail address.") var address: String
        @Option(help: "Why (kept with the entry).") var reason: String?

        func run() throws {
            var p = JSONObject(["tenant": .string(tenant), "address": .string(address)])
            p["reason"] = reason.map { .string($0) }
            try options.call("suppression.add", p) { r in
                print("\(text(r["address"])) \(r["added"] == .bool(true) ? "suppressed" : "was already suppressed")")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a suppression.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Tenant id.") var tenant: String
        @Argument(help: "Phone number or e-mail address.") var address: String

        func run() throws {
            try options.call(
                "suppression.remove", JSONObject(["tenant": .string(tenant), "address": .string(address)])
            ) {
                r in
                print(
                    "\(text(r["address"])) \(r["removed"] == .bool(true) ? "no longer suppressed" : "was not suppressed")"
                )
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List suppressed addresses.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Only this tenant.") var tenant: String?
        @Option(help: "Start after this address (with --tenant).") var after: String?
        @Option(help: "At most this many.") var limit = 100

        func run() throws {
            var p = JSONObject(["limit": .integer(Int64(limit))])
            p["tenant"] = tenant.map { .string($0) }
            p["after"] = after.map { .string($0) }
            try options.call("suppression.list", p) { result in
                let rows = (result["suppressions"]?.arrayValue ?? []).map {
                    [text($0["tenant"]), text($0["address"]), text($0["created_at"]), text($0["reason"])]
                }
                printTable(["TENANT", "ADDRESS", "SINCE", "REASON"], rows)
            }
        }
    }
}
