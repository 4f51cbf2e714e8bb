// Keeps the event-loop threads that answer the control socket ahead of leadd's own bulk work.
//
// Under full load every core is busy with the store's writer and the dispatch loops, and a
// `status` request waited for a core (p99 around 3 ms while a plain thread's echo took under
// 1 ms). Every other thread of the process runs at a higher nice value (`bulkNice`), so the
// scheduler hands a core to an event loop as soon as it wakes. Raising one's own nice value
// needs no privilege. Threads come and go (Swift's pool grows on demand), so the sweep repeats;
// each thread is changed once.
import Foundation
import LeaddSync
import NIOCore
import NIOPosix

public final class AnswerPriority: Sendable {
    /// How much lower than the event loops the rest of leadd runs (nice steps: each is ~1.25x).
    public static let bulkNice: Int32 = 10

    private let answering: Set<pid_t>
    /// The nice value given to the others: `bulkNice` above the event loops' own.
    private let target: Int32
    private let lowered = Locked<Set<pid_t>>([])

    /// For the event loops the control socket runs on (NIO's shared group).
    public convenience init() async throws {
        try await self.init(group: .singleton)
    }

    /// Reads which threads run the event loops of `group`.
    init(group: MultiThreadedEventLoopGroup) async throws {
        var threads: Set<pid_t> = []
        for loop in group.makeIterator() {
            if let tid = try await loop.submit({ Self.currentThread() }).get() { threads.insert(tid) }
        }
        answering = threads
        target = min(19, (threads.first.map(Self.nice(of:)) ?? 0) + Self.bulkNice)
    }

    /// Lowers every thread of the process (or of `threads`) not seen before that is not an event
    /// loop; returns how many.
    @discardableResult
    public func sweep(_ threads: [pid_t]? = nil) -> Int {
        let listed =
            threads
            ?? (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task"))?.compactMap {
                pid_t($0)
            }
        var changed = 0
        for tid in listed ?? [] {
            guard !answering.contains(tid),
                lowered.withLock({ $0.insert(tid).inserted })
            else { continue }
            // The thread may have ended since the listing: nothing to do then.
            if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), target) == 0 { changed += 1 }
        }
        return changed
    }

    /// Sweeps every second until cancelled.
    public func run() async {
        while !Task.isCancelled {
            sweep()
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The calling thread's id (gettid(2) is not exported to Swift): /proc/thread-self links to
    /// "<pid>/task/<tid>".
    public static func currentThread() -> pid_t? {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self") else {
            return nil
        }
        return link.split(separator: "/").last.flatMap { pid_t($0) }
    }

    /// The nice value of thread `tid`.
    public static func nice(of tid: pid_t) -> Int32 {
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid))
    }
}
