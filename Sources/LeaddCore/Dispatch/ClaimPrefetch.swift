// Claims messages shortly before they are due, so that a slow moment of the store (a commit
// held up by the disk: measured up to 40-55 ms on the development machine while a plain thread
// there was never more than 7 ms late) falls before the due time instead of after it. Only the
// claim moves earlier: what goes when, under which limits, is still decided at the due time, and
// a message is never handed over early. A prefetched message is in flight in the store, so a
// crash makes it due again at the restart, as for any message in flight.
import LeaddSync

final class ClaimPrefetch: Sendable {
    /// How far ahead of its due time a message is claimed.
    static let lead: Int64 = 100

    private struct State {
        var claimed: [Int64: ClaimedMessage] = [:]
        /// Rows being claimed right now.
        var reserved: Set<Int64> = []
        var running: Task<Void, Never>?
    }

    private let state = Locked(State())
    private let channel: String
    private let store: any QueueStore
    /// Most messages claimed ahead at once.
    let capacity: Int

    init(channel: String, store: any QueueStore, capacity: Int) {
        self.channel = channel
        self.store = store
        self.capacity = capacity
    }

    /// Room for more, and the ids already claimed or being claimed.
    func room() -> (Int, Set<Int64>) {
        state.withLock { s in
            (capacity - s.claimed.count - s.reserved.count, s.reserved.union(s.claimed.keys))
        }
    }

    /// Starts claiming rows in the store and returns the claim to wait for. Called under the
    /// horizon's lock, in the same hold that found the rows, so the dispatch loop cannot take one
    /// of them in between without seeing it reserved, and the claim it then waits for is this one.
    func start(_ rows: [QueuedRow]) -> Task<Void, Never> {
        state.withLock { s in
            for row in rows { s.reserved.insert(row.entry.id) }
            let task = Task { [state, store, channel] in
                let claimed = (try? await store.claim(channel: channel, rows)) ?? []
                state.withLock { s in
                    for message in claimed { s.claimed[message.id] = message }
                    for row in rows { s.reserved.remove(row.entry.id) }
                }
            }
            s.running = task
            return task
        }
    }

    /// The picks as claimed messages: those claimed ahead are taken from here (waiting for a
    /// claim still under way), the others claimed now.
    func take(_ picks: [QueuedRow]) async throws -> [ClaimedMessage] {
        var ready: [ClaimedMessage] = []
        var waiting: [QueuedRow] = []
        var rest: [QueuedRow] = []
        let running = state.withLock { s -> Task<Void, Never>? in
            for pick in picks {
                if let message = s.claimed.removeValue(forKey: pick.entry.id) {
                    ready.append(message)
                } else if s.reserved.contains(pick.entry.id) {
                    waiting.append(pick)
                } else {
                    rest.append(pick)
                }
            }
            return waiting.isEmpty ? nil : s.running
        }
        if let running {
            await running.value
            state.withLock { s in
                for pick in waiting {
                    if let message = s.claimed.removeValue(forKey: pick.entry.id) {
                        ready.append(message)
                    } else {
                        // Not claimed ahead after all (the store failed, or it was cancelled).
                        rest.append(pick)
                    }
                }
            }
        } else {
            rest += waiting
        }
        guard !rest.isEmpty else { return ready }
        return ready + (try await store.claim(channel: channel, rest))
    }

    /// Keeps claimed messages for a later pick (a batch that could not be handed over in time).
    func hold(_ messages: [ClaimedMessage]) {
        state.withLock { s in for message in messages { s.claimed[message.id] = message } }
    }

    /// Takes out what was claimed ahead for `campaign` (paused or cancelled), once any claim
    /// under way has landed.
    func takeAll(campaign: String?) async -> [ClaimedMessage] {
        await state.withLock { $0.running }?.value
        return state.withLock { s in
            let mine = s.claimed.values.filter { campaign == nil || $0.campaign == campaign }
            for message in mine { s.claimed[message.id] = nil }
            return mine
        }
    }
}
