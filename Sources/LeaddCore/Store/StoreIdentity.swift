// What a database's default idempotency keys start with. Message ids start again at 1 in a new
// database, so `leadd-<id>` alone would repeat after a store is recreated, and a provider (or a
// mail server, through the Message-ID made from the key) would drop a new message as a copy of
// an old one. A new database draws a random prefix (`leadd-3f9a0c1d-42`); a database upgraded
// from an earlier schema keeps an empty one, so the keys of its messages do not change.
import Foundation

struct StoreIdentity: Sendable, Equatable {
    let prefix: String

    /// The key of message `id` when the client gave none.
    func key(id: Int64, given: String?) -> String { effectiveIdempotencyKey(id: id, given: given, prefix: prefix) }

    /// Sets a new random prefix (eight hex digits and a dash); hex only, so it is safe to inline.
    static func newPrefixStatement() -> String {
        let prefix = String(format: "%08x-", UInt32.random(in: .min ... .max))
        return "UPDATE store_identity SET key_prefix = '\(prefix)'"
    }
}
