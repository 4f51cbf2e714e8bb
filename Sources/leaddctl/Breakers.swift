import ArgumentParser
import LeaddProtocol

struct Breakers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each channel's circuit breaker.")
    @OptionGroup var options: CommonOptions

    func run() throws {
        try options.call("breaker.list") { result in
            printTable(
                ["CHANNEL", "STATE", "SINCE", "CALLS", "FAILURES", "OPEN UNTIL"],
                (result.arrayValue ?? []).map { b in
                    [
                        text(b["channel"]), text(b["state"]), text(b["since"]), text(b["calls"]), text(b["failures"]),
                        text(b["open_until"]),
                    ]
                })
        }
    }
}

struct BreakerReset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breaker-reset", abstract: "Close a channel's circuit breaker now (doing it twice is harmless).")
    @OptionGroup var options: CommonOptions
    @Argument(help: "Channel name.") var channel: String

    func run() throws {
        try options.call("breaker.reset", JSONObject(["channel": .string(channel)])) { result in
            print(
                result["changed"]?.boolValue == true
                    ? "breaker of \(channel) closed" : "breaker of \(channel) was already closed")
        }
    }
}
