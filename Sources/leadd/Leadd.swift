// leadd: wires the core to the process — flags, logging, signals, systemd, the control socket
// and the dispatch loops, run as one ServiceGroup. All behaviour lives in LeaddCore.
import ArgumentParser
import Foundation
import LeaddCore
import Logging
import ServiceLifecycle
import UnixSignals

@main
struct Leadd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadd",
        abstract: "Schedules and sends SMS, WhatsApp and e-mail messages for many tenants.",
        version: ControlService.version)

    @Option(name: .shortAndLong, help: "Configuration file.")
    var config = "/etc/leadd/leadd.yaml"

    @Flag(help: "Check the configuration and exit.")
    var check = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Where logs go: journal or stderr (default: the journal when systemd connected stderr to it).")
    var logTarget: String?

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
        if let logTarget, LogTarget(rawValue: logTarget) == nil {
            throw ValidationError("unknown log target '\(logTarget)' (journal, stderr)")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let target = logTarget.flatMap(LogTarget.init(rawValue:)) ?? LogTarget.detect()
        LoggingSystem.bootstrap { label in target.makeHandler(label: label, level: level) }
        let logger = Logger(label: "leadd")
        let notifier = SystemdNotifier()
        // Trapped from the start: a signal that arrives before the services run is kept for them.
        let signals = await UnixSignalsSequence(trapping: .sighup, .sigterm, .sigint)

        let loaded: LeaddConfig
        do {
            loaded = try ConfigDecoder.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("leadd: \(error.description)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
        if check {
            print("\(config): ok (\(loaded.channels.count) channels)")
            return
        }

        // Held for the life of the process; the kernel releases it on any exit.
        let lock = try lockStore(loaded, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        let store = try openStore(loaded, logger: logger)
        let recovered: Int
        do {
            recovered = try await store.recoverInflight()
        } catch {
            logger.critical("cannot put back the messages left in flight: \(error)")
            await store.close()
            throw ExitCode(ExitStatus.ioError)
        }
        if recovered > 0 {
            logger.warning("\(recovered) messages were in flight when leadd last stopped; they are due again")
        }

        let holder = ConfigHolder(loaded, path: config)
        let runtime = DaemonRuntime(
            config: holder, store: store, clock: WallClock(), logger: logger, notifier: notifier)
        do {
            try await runtime.loadDirectories()
        } catch {
            logger.critical("cannot read tenants, campaigns and suppressions from the store: \(error)")
            await store.close()
            throw ExitCode(ExitStatus.ioError)
        }
        let service = ControlService(runtime: runtime, logger: logger)
        let server = ControlServer(
            service: service, events: runtime.events, path: loaded.daemon.socketPath, mode: loaded.daemon.socketMode,
            group: loaded.daemon.socketGroup, maximumLineLength: loaded.daemon.maxRequestBytes,
            maximumConnections: loaded.daemon.maxConnections, logger: logger)
        let listener: ControlServer.Listener
        do {
            if let passed = try ListenSockets.controlSocket() {
                listener = try await server.adopt(socket: passed)
            } else {
                listener = try await server.bind()
            }
        } catch {
            logger.critical("cannot listen on \(loaded.daemon.socketPath): \(error)")
            await store.close()
            throw ExitCode(ExitStatus.unavailable)
        }

        var metricsService: MetricsService?
        if let address = loaded.daemon.metricsListen {
            let metricsServer = MetricsHTTPServer(logger: logger) {
                runtime.metrics.render(
                    stats: runtime.store.stats(), channels: runtime.channels,
                    droppedEvents: runtime.events.dropped)
            }
            do {
                metricsService = MetricsService(server: metricsServer, listener: try await metricsServer.bind(address))
            } catch {
                logger.critical("cannot serve metrics on \(address.host):\(address.port): \(error)")
                await store.close()
                throw ExitCode(ExitStatus.unavailable)
            }
        }

        var webhookService: (any Service)?
        if let webhooks = loaded.webhooks {
            let server = WebhookServer(
                feedback: FeedbackService(runtime: runtime, logger: logger), config: webhooks, logger: logger)
            webhookService = server.application()
            logger.info(
                "webhooks on http://\(webhooks.listen.host):\(webhooks.listen.port) (public \(webhooks.publicURL))")
        }

        let reporter = StatusReporter(runtime: runtime, notifier: notifier, logger: logger)
        let shutdown = ShutdownTrigger()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            // Shut down last, so a second SIGTERM during the drain is still heard.
            .init(
                service: SignalService(
                    runtime: runtime, shutdown: shutdown, logger: logger, signals: signals,
                    grace: loaded.daemon.shutdownGrace)),
            .init(service: DispatchService(runtime: runtime)),
            .init(service: ControlSocketService(server: server, listener: listener)),
            .init(service: SystemdService(reporter: reporter)),
        ]
        if let priority = try? await AnswerPriority() {
            services.append(.init(service: AnswerPriorityService(priority: priority)))
        }
        if let metricsService { services.append(.init(service: metricsService)) }
        if let webhookService { services.append(.init(service: webhookService)) }
        var groupConfig = ServiceGroupConfiguration(services: services, logger: logger)
        // The group cancels what is left at three quarters of the grace; StopDeadline exits at the end of it.
        groupConfig.maximumGracefulShutdownDuration = loaded.daemon.shutdownGrace * 3 / 4
        let group = ServiceGroup(configuration: groupConfig)
        shutdown.set(group)
        logger.info("leadd \(ControlService.version) ready: \(runtime.channels.count) channels")
        notifier.ready(status: await reporter.line())
        try await group.run()
        await store.close()
        logger.info("leadd stopped")
    }

    /// The embedded store's lock (nil for PostgreSQL, whose nodes share one database by design).
    func lockStore(_ loaded: LeaddConfig, logger: Logger) throws -> StoreLock? {
        guard loaded.store.kind == .sqlite else { return nil }
        do {
            try FileManager.default.createDirectory(
                atPath: loaded.daemon.stateDirectory, withIntermediateDirectories: true)
            return try StoreLock(directory: loaded.daemon.stateDirectory)
        } catch let held as StoreLock.Held {
            logger.critical("\(held.description)")
            throw ExitCode(ExitStatus.tempFail)
        } catch {
            logger.critical("cannot lock the store in \(loaded.daemon.stateDirectory): \(error)")
            throw ExitCode(ExitStatus.ioError)
        }
    }

    /// The store the config names: the embedded SQLite file, or a PostgreSQL database shared by nodes.
    func openStore(_ loaded: LeaddConfig, logger: Logger) throws -> any QueueStore {
        switch loaded.store.kind {
        case .postgres:
            let settings = PostgresQueueStore.Settings(
                url: loaded.store.url ?? "", pool: loaded.store.pool,
                node: loaded.store.node ?? ProcessInfo.processInfo.hostName, lease: loaded.store.lease)
            do {
                let store = try PostgresQueueStore(settings, logger: logger)
                logger.info("store: PostgreSQL, node \(settings.node)")
                return store
            } catch {
                logger.critical("cannot open the PostgreSQL store: \(error)")
                throw ExitCode(ExitStatus.unavailable)
            }
        case .sqlite:
            let databasePath = loaded.daemon.stateDirectory + "/leadd.db"
            do {
                try FileManager.default.createDirectory(
                    atPath: loaded.daemon.stateDirectory, withIntermediateDirectories: true)
                let store = try SQLiteQueueStore(
                    path: databasePath, synchronous: loaded.store.synchronous, maxBatch: loaded.store.maxBatch)
                store.onStorageFailure { reason in
                    // Fail-stop: what this process holds may not be on disk; systemd restarts leadd
                    // and SQLite recovers from what is really there.
                    logger.critical(
                        "storage failed: \(reason); no request is acknowledged any more; exiting so that leadd restarts from what is on disk"
                    )
                    fflush(nil)
                    _exit(ExitStatus.ioError)
                }
                return store
            } catch let error as SQLiteError where error.isCorruption {
                // Never reset or repair behind the operator's back: the file may hold the only copy.
                logger.critical(
                    "\(databasePath) is damaged (\(error)); leadd will not start on it. Restore it from a backup, or move it and its -wal file aside to start empty"
                )
                throw ExitCode(ExitStatus.ioError)
            } catch {
                logger.critical("cannot open the store in \(loaded.daemon.stateDirectory): \(error)")
                throw ExitCode(ExitStatus.ioError)
            }
        }
    }
}

/// sysexits(3) codes, so service managers and scripts can tell failures apart.
enum ExitStatus {
    static let unavailable: Int32 = 69
    static let ioError: Int32 = 74
    /// Another leadd holds the store: try again once it has stopped.
    static let tempFail: Int32 = 75
    static let config: Int32 = 78
}
