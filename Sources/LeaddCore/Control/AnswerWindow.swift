// How many requests of one connection may be read before their answers are written. Counting
// until the answer is written, not until it is ready, is what makes a client that stops reading
// its answers stop leadd reading its requests, instead of making leadd hold every answer.
import LeaddSync

final class AnswerWindow: Sendable {
    private struct State {
        var free: Int
        var closed = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Locked<State>

    init(size: Int) { state = Locked(State(free: size)) }

    /// Waits for room for one more request.
    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.closed { return true }
                if s.free > 0 {
                    s.free -= 1
                    return true
                }
                s.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// One answer was written.
    func leave() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.waiting.isEmpty else {
                s.free += 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }

    /// Nothing more will be written (the connection is going): no one waits any longer.
    func close() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.closed = true
            defer { s.waiting = [] }
            return s.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}
