import Foundation
import PluginAPI
import Synchronization
import Testing

@testable import LeaddCore

/// A plugin may keep threads that outlive its instance and call the host from them (a late
/// completion, a log line). The host's table and context stay valid for the life of the process
/// and such calls are ignored: no crash, no effect.
@Suite struct PluginInstanceTests {
    static let childVariable = "LEADD_TEST_CHILD"

    /// Runs in a child process started by `aLateCallFromAPluginThreadIsIgnored`: a use after free
    /// there crashes the child, not the test runner.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[childVariable] == "late-call"))
    func lateCallChild() async throws {
        let calls = Atomic<Int>(0)
        let services = PluginHostServices(
            log: { _, _ in calls.add(1, ordering: .relaxed) },
            nowMilliseconds: {
                calls.add(1, ordering: .relaxed)
                return 42
            })
        let file = PluginLoader.resolve("BadABIPlugin", directory: buildProductsDirectory())
        let table = try PluginLoader.load(file: file)
        weak var released: PluginInstance?
        do {
            let instance = try PluginInstance(table: table, settingsJSON: "{}", services: services)
            #expect(await PluginTableTests.sendOne(through: instance) == [.failed])
            instance.shutdown()
            released = instance
        }
        #expect(released == nil, "the instance is still alive: the test would prove nothing")
        let handle = try #require(dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
        let symbol = try #require(dlsym(handle, "bad_abi_call_host_from_thread"))
        let callHost = unsafeBitCast(symbol, to: (@convention(c) () -> Int64).self)
        // log, complete and now_ms from a thread of the plugin's, after the instance is gone.
        let now = callHost()
        #expect(now == 0, "now_ms after the instance is gone answers 0")
        #expect(calls.load(ordering: .relaxed) == 0, "a late call reached the released instance's services")
    }

    @Test func aLateCallFromAPluginThreadIsIgnored() async throws {
        let outcome = try await runThisTestBinary(
            filter: "lateCallChild",
            // Freed memory is overwritten at once, so a use after free shows every time.
            environment: [Self.childVariable: "late-call", "MALLOC_PERTURB_": "165"])
        #expect(outcome.status == 0, "the child exited with \(outcome.status):\n\(outcome.output)")
        #expect(
            outcome.output.contains("lateCallChild()") && outcome.output.contains("passed"),
            "the child did not run the test:\n\(outcome.output)")
    }
}
