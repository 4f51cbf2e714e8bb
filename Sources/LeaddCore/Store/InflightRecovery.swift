// What the history of a message says when it was in flight as leadd (or a node) stopped and is
// queued again: the hand-off may or may not have reached the provider, so the message may go out
// twice, and the history shows both hand-offs rather than only the last.

enum InflightRecovery {
    /// The outcome word of that history line.
    static let word = "unknown"

    /// `nodes`: the cluster nodes whose messages were taken back (empty: this leadd itself).
    static func detail(nodes: [String]) -> String {
        let who = nodes.isEmpty ? "leadd" : "node " + nodes.sorted().joined(separator: ", ")
        return "\(who) stopped while the message was in flight; it may have reached the provider"
    }
}
