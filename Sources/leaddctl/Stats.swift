import ArgumentParser
import LeaddProtocol

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Message counts by state, per channel.")
    @OptionGroup var options: CommonOptions

    func run() throws {
        try options.call("queue.stats") { result in
            let states = ["scheduled", "inflight", "sent", "failed", "dead", "cancelled"]
            var rows: [[String]] = []
            if case .object(let channels)? = result["channels"] {
                for (name, counts) in channels { rows.append([name] + states.map { text(counts[$0]) }) }
            }
            rows.append(["total"] + states.map { text(result["total"]?[$0]) })
            printTable(["CHANNEL"] + states.map { $0.uppercased() }, rows)
        }
    }
}
