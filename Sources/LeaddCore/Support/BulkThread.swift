// Threads that do bulk work (the store's writer and checkpointer) run under SCHED_BATCH: the same
// share of the CPU, but a thread woken to answer a request (the control socket's event loop)
// no longer waits behind them for the rest of their time slice. Needs no privilege.
import Glibc

enum BulkThread {
    /// Linux's SCHED_BATCH (not exported to Swift by Glibc's module).
    private static let schedBatch: Int32 = 3

    /// Marks the calling thread; returns false (and changes nothing) where the kernel refuses.
    @discardableResult
    static func markCurrent() -> Bool {
        var parameters = sched_param()
        parameters.sched_priority = 0
        return sched_setscheduler(0, schedBatch, &parameters) == 0
    }
}
