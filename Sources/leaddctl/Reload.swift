import ArgumentParser
import LeaddProtocol

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the config file; a bad file is refused and the running config kept.")
    @OptionGroup var options: CommonOptions

    func run() throws {
        try options.call("config.reload") { result in
            let restart = (result["restart_required"]?.arrayValue ?? []).map { text($0) }
            print("configuration reloaded")
            if !restart.isEmpty { print("needs a restart to apply: \(restart.joined(separator: ", "))") }
        }
    }
}
