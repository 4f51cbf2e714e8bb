// What the history of a message says when it was in flight as leadd (or a node) stopped and is
// queued again: the hand-off may or may not have reached the provider, so the message may go out
// twice, and the history shows both hand-offs rather than only the last.

//
// A message that was in flight at `poisonLimit` stops in a row is set aside as dead instead of
// being queued again: a message that crashes its plugin (plugins run inside leadd) would
// otherwise crash leadd at every restart. `dlq retry` gives it another chance.
enum InflightRecovery {
    /// The outcome word of that history line.
    static let word = "unknown"

    /// Stops with the message in flight after which it is dead-lettered.
    static let poisonLimit: Int64 = 3

    static func poison(stops: Int64) -> String {
        "poison: in flight at \(stops) stops of leadd; set aside in case it is what stops it (dlq retry sends it again)"
    }

    /// `nodes`: the cluster nodes whose messages were taken back (empty: this leadd itself).
    static func detail(nodes: [String]) -> String {
        let who = nodes.isEmpty ? "leadd" : "node " + nodes.sorted().joined(separator: ", ")
        return "\(who) stopped while the message was in flight; it may have reached the provider"
    }
}
