import ArgumentParser
import LeaddProtocol

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the daemon's state and queue counts.")
    @OptionGroup var options: CommonOptions

    func run() throws {
        try options.call("status") { result in
            print(
                "leadd \(text(result["version"])) (pid \(text(result["pid"]))), up \(text(result["uptime_seconds"]))s")
            print("config: \(text(result["config"]))")
            if case .object(let queue)? = result["queue"] {
                print("queue: " + queue.map { "\($0.key) \(text($0.value))" }.joined(separator: ", "))
            }
            if case .object(let caches)? = result["caches"] {
                let parts = caches.map { name, c in
                    "\(name) \(text(c["entries"]))"
                        + (c["hits"].map { " (\(text($0)) hits, \(text(c["misses"])) misses)" } ?? "")
                }
                print("in memory: " + parts.joined(separator: ", "))
            }
            for channel in result["channels"]?.arrayValue ?? [] {
                print("channel \(text(channel["name"])): \(text(channel["state"]))")
            }
        }
    }
}
