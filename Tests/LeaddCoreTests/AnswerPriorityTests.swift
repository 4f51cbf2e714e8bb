import Foundation
import LeaddSync
import NIOCore
import NIOPosix
import Testing

@testable import LeaddCore

@Suite struct AnswerPriorityTests {
    @Test func everyThreadButTheEventLoopsRunsLowerAndOnlyOnce() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = try #require(try await group.next().submit { AnswerPriority.currentThread() }.get())
        // A thread of bulk work, kept alive while the sweep runs.
        let started = DispatchSemaphore(value: 0)
        let finish = DispatchSemaphore(value: 0)
        let bulk = Locked<pid_t?>(nil)
        Thread {
            bulk.withLock { $0 = AnswerPriority.currentThread() }
            started.signal()
            finish.wait()
        }.start()
        started.wait()
        defer { finish.signal() }
        let worker = try #require(bulk.withLock { $0 })
        let before = AnswerPriority.nice(of: loop)

        let priority = try await AnswerPriority(group: group)
        #expect(priority.sweep([loop, worker]) == 1)
        #expect(AnswerPriority.nice(of: loop) == before)
        #expect(AnswerPriority.nice(of: worker) == min(19, before + AnswerPriority.bulkNice))
        // Seen once: a second sweep changes nothing.
        #expect(priority.sweep([loop, worker]) == 0)
        try await group.shutdownGracefully()
    }
}
