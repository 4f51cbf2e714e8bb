// Fail-stop for the embedded store. When the disk refuses to sync the log, Linux may already have
// dropped the dirty pages, and a later sync that succeeds says nothing about them: what this
// process believes is stored may not be on disk. From the first such error on, the store accepts
// no write and answers no commit as durable (the requests get an error that says their outcome is
// unknown, so a client retries with its idempotency key), and the handler the daemon set ends the
// process for systemd to restart it: SQLite then recovers from what is really on the disk.
import LeaddSync

final class FailStop: Sendable {
    private struct State {
        var reason: String?
        var handler: (@Sendable (String) -> Void)?
    }

    private let state = Locked(State())

    /// Why the store stopped, once it has.
    var reason: String? { state.withLock { $0.reason } }

    /// The error every request gets once the store has stopped.
    var error: SQLiteError? {
        reason.map {
            SQLiteError(
                code: 10,
                message: "storage failed (\($0)); whether this request was stored is unknown, and leadd stops")
        }
    }

    /// Called once, on the thread that met the failure, when the store stops.
    func onFailure(_ handler: @escaping @Sendable (String) -> Void) {
        let stopped = state.withLock { state -> String? in
            state.handler = handler
            return state.reason
        }
        if let stopped { handler(stopped) }
    }

    /// Stops the store for `reason` (the first reason is kept).
    func fail(_ reason: String) {
        let handler = state.withLock { state -> (@Sendable (String) -> Void)? in
            guard state.reason == nil else { return nil }
            state.reason = reason
            return state.handler
        }
        handler?(reason)
    }
}
