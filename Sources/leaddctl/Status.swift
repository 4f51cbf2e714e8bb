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
            if let node = result["node"] {
                print("node: \(text(node)) (lease \(text(result["cluster"]?["lease_seconds"]))s)")
                for peer in result["cluster"]?["nodes"]?.arrayValue ?? [] {
                    print(
                        "  \(text(peer["name"])) on \(text(peer["host"])) pid \(text(peer["pid"])): "
                            + "\(text(peer["in_flight"])) in flight, seen \(text(peer["silent_ms"])) ms ago")
                }
            }
        }
    }
}
