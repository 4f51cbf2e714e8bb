// Messages in flight on the SQLite store, held in memory instead of marked in their rows.
//
// A claim deletes the messages' queue rows and writes one `claims` row listing the batch's ids;
// the message rows are left alone until their outcome. A message is so written twice on its way
// (queued, outcome) instead of three times, and no index entry is added and removed per claim.
// After a crash the claims rows name everything that may have been in flight, and
// `recoverInflight` queues again those of them still waiting. A claims row is deleted with the
// outcome of the last of its messages.
//
// Only the writer thread changes it, inside a transaction. Changes are journalled so that a job
// rolled back to its savepoint, or a transaction that fails to commit, undoes them as well.
// Others only look (`message.get` shows such a message in flight).
import LeaddSync

final class InflightClaims: TransactionJournal {
    struct Entry: Sendable {
        var batch: Int64
        var channel: String
        var campaign: String?
    }

    private enum Change {
        case added(Int64, Entry)
        case removed(Int64, Entry)
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        /// Messages still in flight per claims row.
        var remaining: [Int64: Int] = [:]
        /// What the open transaction changed, newest last.
        var journal: [Change] = []

        mutating func add(_ id: Int64, _ entry: Entry, counted: Bool = true) {
            entries[id] = entry
            if counted { remaining[entry.batch, default: 0] += 1 }
        }

        /// Takes `id` out; true when it was the last of its batch.
        mutating func remove(_ id: Int64, _ entry: Entry) -> Bool {
            entries[id] = nil
            let left = (remaining[entry.batch] ?? 1) - 1
            remaining[entry.batch] = left > 0 ? left : nil
            return left <= 0
        }
    }

    private let state = Locked(State())

    var count: Int { state.withLock { $0.entries.count } }

    func contains(_ id: Int64) -> Bool { state.withLock { $0.entries[id] != nil } }

    /// Puts a claimed batch in flight.
    func add(batch: Int64, _ messages: [(id: Int64, channel: String, campaign: String?)]) {
        state.withLock { s in
            s.entries.reserveCapacity(s.entries.count + messages.count)
            for m in messages {
                let entry = Entry(batch: batch, channel: m.channel, campaign: m.campaign)
                s.add(m.id, entry, counted: false)
                s.journal.append(.added(m.id, entry))
            }
            s.remaining[batch, default: 0] += messages.count
        }
    }

    /// Takes `ids` out of flight: for each, whether it was in flight (an id listed twice counts
    /// once), and the claims rows left with nothing in flight.
    func settle(_ ids: [Int64]) -> (inFlight: [Bool], emptied: [Int64]) {
        state.withLock { s in
            var inFlight: [Bool] = []
            inFlight.reserveCapacity(ids.count)
            var emptied: [Int64] = []
            for id in ids {
                guard let entry = s.entries[id] else {
                    inFlight.append(false)
                    continue
                }
                if s.remove(id, entry) { emptied.append(entry.batch) }
                s.journal.append(.removed(id, entry))
                inFlight.append(true)
            }
            return (inFlight, emptied)
        }
    }

    /// The messages of `campaign` in flight.
    func inFlight(campaign: String) -> [(id: Int64, entry: Entry)] {
        state.withLock { s in s.entries.filter { $0.value.campaign == campaign }.map { ($0.key, $0.value) } }
    }

    // MARK: TransactionJournal

    func mark() -> Int { state.withLock { $0.journal.count } }

    func rollback(to mark: Int) {
        state.withLock { s in
            while s.journal.count > mark {
                switch s.journal.removeLast() {
                case .added(let id, let entry): _ = s.remove(id, entry)
                case .removed(let id, let entry): s.add(id, entry)
                }
            }
        }
    }

    func commit() { state.withLock { $0.journal.removeAll(keepingCapacity: true) } }
}
