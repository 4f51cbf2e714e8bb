import ArgumentParser
import Foundation
import LeaddProtocol

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one message and its attempts.")
    @OptionGroup var options: CommonOptions
    @Argument(help: "Message id.") var id: String

    func run() throws {
        try options.call("message.get", JSONObject(["id": .string(id)])) { m in
            for key in [
                "id", "state", "tenant", "channel", "to", "priority", "due_at", "sent_at", "provider_id", "last_error",
            ] {
                if let value = m[key] {
                    print("\(key):".padding(toLength: 13, withPad: " ", startingAt: 0) + text(value))
                }
            }
            let attempts = m["attempts"]?.arrayValue ?? []
            if !attempts.isEmpty {
                print("")
                printTable(
                    ["AT", "OUTCOME", "DETAIL"],
                    attempts.map { [text($0["at"]), text($0["outcome"]), text($0["detail"])] })
            }
        }
    }
}
