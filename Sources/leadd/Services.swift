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
    /// `daemon.shutdown_grace`: how long a stop may take before leadd exits regardless.
    let grace: Duration

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
                StopDeadline.arm(grace: grace, logger: logger)
                await shutdown.trigger()
            }
        }
    }
}

/// Ends the process when a stop has not finished within the grace: a plugin call that never
/// answers (or a store that hangs) must not keep leadd from stopping. Everything acknowledged is
/// already durable, and the messages still in flight are due again at the next start. The timer
/// runs on a Dispatch thread, so it fires even if every task of the cooperative pool is stuck.
enum StopDeadline {
    static func arm(grace: Duration, logger: Logger) {
        let milliseconds = Int(max(grace.milliseconds, 0))
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) {
            logger.warning(
                "shutdown_grace of \(DurationText.format(grace)) passed with sends still in flight; exiting now: they are due again at the next start"
            )
            exit(0)
        }
    }
}
