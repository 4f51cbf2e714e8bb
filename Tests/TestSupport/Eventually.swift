// Waiting in a test for a state it cannot be told of: poll it until it holds. Deadlines are
// generous (a shared two-core machine can stall a process for seconds); only running out of one fails.
import Foundation

/// Polls `condition` every 10 ms, without holding a thread of the pool, until it holds or
/// `timeout` seconds pass; whether it held.
public func eventually(timeout: TimeInterval = 60, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
