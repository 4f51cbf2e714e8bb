// Time as the core sees it: injected, so policies and tests need no sleeping.
import Foundation

public protocol WallClockProtocol: Sendable {
    /// Unix epoch milliseconds.
    func nowMilliseconds() -> Int64
}

public struct WallClock: WallClockProtocol {
    public init() {}

    public func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
