// Work handed to one thread of the store (the writer, the reader, the WAL syncer): items wait
// under one condition, and a stop lets the thread drain what was handed over before it ends.
import Foundation

final class ThreadQueue<Item>: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var items: [Item] = []
    private var stopping = false
    private var finished = false

    /// Hands `item` to the thread; false (and nothing kept) once a stop began.
    func push(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        items.append(item)
        condition.signal()
        return true
    }

    /// For the thread: waits for work and takes up to `limit` items, oldest first; nil once
    /// stopped with nothing left (the thread should end).
    func take(limit: Int = .max) -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !stopping { condition.wait() }
        if items.isEmpty {
            finished = true
            condition.broadcast()
            return nil
        }
        let taken = Array(items.prefix(limit))
        items.removeFirst(taken.count)
        return taken
    }

    /// Items handed over and not yet taken.
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count
    }

    /// Refuses new items and waits until the thread has taken the rest and ended.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
