// leadd: wires the core to the process — flags, logging, signals, the control socket and the
// dispatch loops, run as one ServiceGroup. All behaviour lives in LeaddCore.
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

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "leadd")

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

        let store: SQLiteQueueStore
        do {
            try FileManager.default.createDirectory(
                atPath: loaded.daemon.stateDirectory, withIntermediateDirectories: true)
            store = try SQLiteQueueStore(
                path: loaded.daemon.stateDirectory + "/leadd.db", synchronous: loaded.store.synchronous,
                maxBatch: loaded.store.maxBatch)
        } catch {
            logger.critical("cannot open the store in \(loaded.daemon.stateDirectory): \(error)")
            throw ExitCode(ExitStatus.ioError)
        }
        let recovered = try await store.recoverInflight()
        if recovered > 0 {
            logger.warning("\(recovered) messages were in flight when leadd last stopped; they are due again")
        }

        let holder = ConfigHolder(loaded, path: config)
        let runtime = DaemonRuntime(config: holder, store: store, clock: WallClock(), logger: logger)
        let service = ControlService(runtime: runtime, logger: logger)
        let server = ControlServer(
            service: service, path: loaded.daemon.socketPath, mode: loaded.daemon.socketMode,
            maximumLineLength: loaded.daemon.maxRequestBytes, logger: logger)
        let listener: ControlServer.Listener
        do {
            listener = try await server.bind()
        } catch {
            logger.critical("cannot listen on \(loaded.daemon.socketPath): \(error)")
            await store.close()
            throw ExitCode(ExitStatus.unavailable)
        }

        var groupConfig = ServiceGroupConfiguration(
            services: [
                .init(service: DispatchService(runtime: runtime)),
                .init(service: ControlSocketService(server: server, listener: listener)),
                .init(service: ReloadService(runtime: runtime, logger: logger)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        groupConfig.maximumGracefulShutdownDuration = loaded.daemon.shutdownGrace
        logger.info("leadd \(ControlService.version) ready: \(runtime.channels.count) channels")
        try await ServiceGroup(configuration: groupConfig).run()
        await store.close()
        logger.info("leadd stopped")
    }
}

/// sysexits(3) codes, so service managers and scripts can tell failures apart.
enum ExitStatus {
    static let unavailable: Int32 = 69
    static let ioError: Int32 = 74
    static let config: Int32 = 78
}
