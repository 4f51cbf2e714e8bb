// The daemon's long-running parts as services of one ServiceGroup. On SIGTERM the group shuts
// them down in reverse order: systemd status updates stop, the socket stops taking requests,
// the dispatchers stop claiming and wait for the sends in flight to be recorded, and last the
// signal handler, which until then turns a second SIGTERM into an immediate exit.
import Foundation
import LeaddCore
import LeaddSync
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

struct MetricsService: Service {
    let server: MetricsHTTPServer
    let listener: MetricsHTTPServer.Listener

    func run() async throws {
        await cancelWhenGracefulShutdown { await server.serve(listener) }
    }
}

/// STATUS= updates and the watchdog.
struct SystemdService: Service {
    let reporter: StatusReporter

    func run() async throws {
        await cancelWhenGracefulShutdown {
            async let status: Void = reporter.runStatusUpdates()
            async let watchdog: Void = reporter.runWatchdog()
            _ = await (status, watchdog)
        }
    }
}

/// Keeps the control socket's event loops ahead of the bulk work (see AnswerPriority).
struct AnswerPriorityService: Service {
    let priority: AnswerPriority

    func run() async throws {
        await cancelWhenGracefulShutdown { await priority.run() }
    }
}

/// Lets the signal handler start the group's graceful shutdown once the group exists.
final class ShutdownTrigger: Sendable {
    private let group = Locked<ServiceGroup?>(nil)

    func set(_ group: ServiceGroup) { self.group.withLock { $0 = group } }

    func trigger() async {
        if let group = group.withLock({ $0 }) { await group.triggerGracefulShutdown() }
    }
}

/// SIGHUP reloads the configuration (a bad file is refused and the running one kept). The first
/// SIGTERM or SIGINT starts a graceful shutdown; a second one exits at once: everything
/// acknowledged is already durable, and messages in flight are sent again at the next start.
/// The signals are trapped when leadd starts (`signals`), before the control socket answers, so
/// one sent as soon as it answers waits for this service instead of killing the process.
struct SignalService: Service {
    let runtime: DaemonRuntime
    let shutdown: ShutdownTrigger
    let logger: Logger
    let signals: UnixSignalsSequence

    func run() async throws {
        var stopping = false
        for await signal in signals.cancelOnGracefulShutdown() {
            switch signal {
            case .sighup:
                _ = try? runtime.reloadConfig()
            default:
                if stopping {
                    logger.warning(
                        "second \(signal): exiting now; messages in flight will be sent again at the next start")
                    exit(0)
                }
                stopping = true
                logger.info("\(signal): stopping; waiting for sends in flight")
                runtime.notifier.stopping(status: "stopping: waiting for sends in flight")
                await shutdown.trigger()
            }
        }
    }
}
