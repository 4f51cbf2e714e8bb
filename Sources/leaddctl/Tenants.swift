import ArgumentParser
import Foundation
import LeaddProtocol

struct Tenants: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Tenants: their country, zone, window, limits and weight.",
        subcommands: [Put.self, Get.self, List.self])

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a tenant (fields left out come from the config).")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Tenant id.") var id: String
        @Option(help: "Display name.") var name: String?
        @Option(help: "Region of phone numbers written without +country (ISO 3166, like BR).") var country: String?
        @Option(help: "IANA time zone its window is read in.") var timezone: String?
        @Option(help: "Named sending window from the config.") var schedule: String?
        @Option(help: "Rate limit, like 1000/min.") var rate: String?
        @Option(help: "Burst allowed after a quiet spell.") var burst: Int?
        @Option(help: "Share of busy channels relative to other tenants.") var weight: Int?
        @Option(name: .customLong("sender"), help: "A sender its messages go out through (repeat for several).")
        var senders: [String] = []

        func run() throws {
            var p = JSONObject(["id": .string(id)])
            p["name"] = name.map { .string($0) }
            p["country"] = country.map { .string($0) }
            p["timezone"] = timezone.map { .string($0) }
            p["schedule"] = schedule.map { .string($0) }
            p["rate"] = rate.map { .string($0) }
            p["burst"] = burst.map { .integer(Int64($0)) }
            p["weight"] = weight.map { .integer(Int64($0)) }
            if !senders.isEmpty { p["senders"] = .array(senders.map { .string($0) }) }
            try options.call("tenant.put", p) { print("tenant \(text($0["id"])) stored") }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a tenant and what it is held to.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "Tenant id.") var id: String

        func run() throws {
            try options.call("tenant.get", JSONObject(["id": .string(id)])) { t in
                let e = t["effective"]
                for field in ["name", "country", "timezone", "schedule", "rate", "burst", "weight", "senders"] {
                    let stored = t[field].map(text) ?? "-"
                    print(
                        "\(field.padding(toLength: 10, withPad: " ", startingAt: 0)) \(stored)  (in effect: \(text(e?[field])))"
                    )
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stored tenants.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Start after this tenant id.") var after: String?
        @Option(help: "At most this many.") var limit = 100

        func run() throws {
            var p = JSONObject(["limit": .integer(Int64(limit))])
            p["after"] = after.map { .string($0) }
            try options.call("tenant.list", p) { result in
                let rows = (result["tenants"]?.arrayValue ?? []).map { t in
                    [
                        text(t["id"]), text(t["name"]), text(t["effective"]?["schedule"]),
                        text(t["effective"]?["timezone"]),
                        text(t["effective"]?["rate"]), text(t["effective"]?["weight"]),
                    ]
                }
                printTable(["ID", "NAME", "SCHEDULE", "TIMEZONE", "RATE", "WEIGHT"], rows)
                if let next = result["next"] { print("more: leaddctl tenant list --after \(text(next))") }
            }
        }
    }
}
