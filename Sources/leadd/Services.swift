// The daemon's long-running parts as services of one ServiceGroup. On SIGTERM the group shuts
// them down in reverse order: reloads stop, the socket stops taking requests, then the
// dispatchers stop claiming and wait for the sends in flight to be recorded.
import LeaddCore
import Logging
import ServiceLifecycle
import UnixSignals

struct DispatchService: Service {
    let runtime: DaemonRuntime

    func run() async throws {
        await cancelWhenGracefulShutdown { await runtime.runDispatchers() }
    }
}

struct ControlSocketService: Service {
    let server: ControlServer
    let listener: ControlServer.Listener

    func run() async throws {
        await cancelWhenGracefulShutdown { await server.serve(listener) }
    }
}

/// SIGHUP reloads the configuration; a bad file is refused and the running one kept.
struct ReloadService: Service {
    let runtime: DaemonRuntime
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            do {
                let report = try runtime.config.reload()
                let restart = report.restartRequired
                logger.info(
                    "configuration reloaded from \(runtime.config.path)\(restart.isEmpty ? "" : "; needs a restart to apply: \(restart.joined(separator: ", "))")"
                )
            } catch {
                logger.error("configuration reload refused, keeping the running one: \(error)")
            }
        }
    }
}
