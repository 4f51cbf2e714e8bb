// The machine's own timing noise, measured beside the lateness probe: a plain thread that asks
// to wake every millisecond (absolute deadlines) and records how late each wake-up is. leadd's
// sends cannot be more punctual than a thread on the same machine at the same moment.
import Foundation

final class TimerReference: @unchecked Sendable {
    private var lateness: [Double] = []
    private let done = DispatchSemaphore(value: 0)
    private var stop = false
    private let lock = NSLock()

    func start() {
        let thread = Thread { [self] in
            var next = timespec()
            clock_gettime(CLOCK_MONOTONIC, &next)
            var samples: [Double] = []
            samples.reserveCapacity(200_000)
            while true {
                lock.lock()
                let stopping = stop
                lock.unlock()
                if stopping { break }
                next.tv_nsec += 1_000_000
                if next.tv_nsec >= 1_000_000_000 {
                    next.tv_nsec -= 1_000_000_000
                    next.tv_sec += 1
                }
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nil)
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                let late = Double(now.tv_sec - next.tv_sec) * 1000 + Double(now.tv_nsec - next.tv_nsec) / 1e6
                samples.append(late)
                // After a long stall, carry on from now rather than firing a burst to catch up.
                if late > 1 { next = now }
            }
            lateness = samples
            done.signal()
        }
        thread.start()
    }

    /// Stops the thread; (p50, p99, max) of its wake-up lateness in milliseconds.
    func finish() -> (p50: Double, p99: Double, max: Double) {
        lock.lock()
        stop = true
        lock.unlock()
        done.wait()
        let sorted = lateness.sorted()
        guard !sorted.isEmpty else { return (0, 0, 0) }
        return (percentile(sorted, 0.5), percentile(sorted, 0.99), sorted.last!)
    }
}
