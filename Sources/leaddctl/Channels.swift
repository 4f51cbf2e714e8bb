import ArgumentParser
import LeaddProtocol

struct Channels: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List channels, their plugins and state.")
    @OptionGroup var options: CommonOptions

    func run() throws {
        try options.call("channel.list") { result in
            printTable(
                ["NAME", "PLUGIN", "VERSION", "STATE", "HEALTH"],
                (result.arrayValue ?? []).map { c in
                    [
                        text(c["name"]), text(c["plugin"]), text(c["version"]), text(c["state"]),
                        text(c["health"] ?? c["error"]),
                    ]
                })
        }
    }
}
