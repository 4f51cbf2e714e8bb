import ArgumentParser
import LeaddProtocol

struct Breakers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each channel's circuit breaker.")
    @OptionGroup var options: CommonOptions

    func run() throws {
        try options.call("breaker.list") { result in
            printTable(
                ["CHANNEL", "STATE", "SINCE", "CALLS", "FAILURES", "OPEN UNTIL", "WHY"],
                (result.arrayValue ?? []).flatMap { b in
                    [
                        [
                            text(b["channel"]), text(b["state"]), text(b["since"]), text(b["calls"]),
                            text(b["failures"]), text(b["open_until"]), text(b["reason"]),
                        ]
                    ]
                        + (b["senders"]?.arrayValue ?? []).map { s in
                            [
                                "\(text(b["channel"]))/\(text(s["sender"]))", text(s["state"]), text(s["since"]), "",
                                "", text(s["open_until"]), text(s["reason"]),
                            ]
                        }
                })
        }
    }
}

struct BreakerReset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breaker-reset",
        abstract: "Close a channel's (or one of its senders') circuit breaker now (doing it twice is harmless).")
    @OptionGroup var options: CommonOptions
    @Argument(help: "Channel name.") var channel: String
    @Option(help: "Reset this sender's breaker instead of the channel's.") var sender: String?

    func run() throws {
        var p = JSONObject(["channel": .string(channel)])
        p["sender"] = sender.map { .string($0) }
        let what = sender.map { "sender \($0)" } ?? channel
        try options.call("breaker.reset", p) { result in
            print(
                result["changed"]?.boolValue == true
                    ? "breaker of \(what) closed" : "breaker of \(what) was already closed")
        }
    }
}
