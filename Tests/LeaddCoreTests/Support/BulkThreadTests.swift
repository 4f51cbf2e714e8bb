import Foundation
import Testing

@testable import LeaddCore

@Suite struct BulkThreadTests {
    /// The policy is the calling thread's only: the thread that asked is batch, its caller is not.
    @Test func marksOnlyTheCallingThread() async {
        let policies: (marked: Int32, ok: Bool) = await withCheckedContinuation { continuation in
            Thread {
                let ok = BulkThread.markCurrent()
                continuation.resume(returning: (sched_getscheduler(0), ok))
            }.start()
        }
        #expect(policies.ok)
        #expect(policies.marked == 3)
        #expect(sched_getscheduler(0) == 0)
    }
}
