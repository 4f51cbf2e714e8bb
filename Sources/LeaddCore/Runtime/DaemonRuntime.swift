// Everything the running daemon is made of, built once at start: the live config, the store,
// and each channel with its plugin and dispatcher (or the reason it failed to load).
import LeaddSync
import Logging
import PluginAPI

public final class ChannelRuntime: Sendable {
    public enum State: Sendable {
        case running(PluginInstance, ChannelDispatcher)
        case failed(String)
    }

    public let name: String
    public let plugin: String
    public let state: State

    init(name: String, plugin: String, state: State) {
        self.name = name
        self.plugin = plugin
        self.state = state
    }

    public var dispatcher: ChannelDispatcher? {
        if case .running(_, let d) = state { return d }
        return nil
    }

    public var stateWord: String {
        if case .running = state { return "running" }
        return "failed"
    }
}

public final class DaemonRuntime: Sendable {
    public let config: ConfigHolder
    public let store: any QueueStore
    public let channels: [ChannelRuntime]
    public let clock: any WallClockProtocol
    public let startedAt: Int64
    public let notifier: SystemdNotifier
    public let metrics = LeaddMetrics()
    public let events = EventBus()
    /// Tenants, campaigns and suppressions mirrored from the store, with the buckets and windows
    /// every channel shares.
    public let rules: SendRules
    /// Each loaded channel's plugin kind (sms, whatsapp, email, ...).
    private let pluginKinds = PluginKinds()
    private let logger: Logger

    /// Loads every channel's plugin; a channel whose plugin is refused is kept as failed.
    public init(
        config: ConfigHolder, store: any QueueStore, clock: any WallClockProtocol, logger: Logger,
        notifier: SystemdNotifier = SystemdNotifier()
    ) {
        self.config = config
        self.store = store
        self.clock = clock
        self.notifier = notifier
        self.logger = logger
        self.startedAt = clock.nowMilliseconds()
        self.rules = SendRules(cache: config.current.cache)
        let current = config.current
        let directory = current.daemon.pluginDirectory ?? PluginLoader.defaultDirectory()
        let metrics = self.metrics
        let events = self.events
        let rules = self.rules
        let kinds = self.pluginKinds
        let addressKind: @Sendable (String) -> AddressKind = { channel in
            Self.addressKind(channel: channel, config: config.current, pluginKind: kinds.kind(of: channel))
        }
        channels = current.channels.map { channel in
            do throws(PluginRefusal) {
                let instance = try PluginLoader.start(channel: channel, directory: directory, logger: logger)
                kinds.set(channel.name, instance.table.channelKind)
                logger.info(
                    "channel \(channel.name): plugin \(instance.table.name) \(instance.table.version) (ABI \(instance.table.abiMajor).\(instance.table.abiMinor)) loaded"
                )
                let dispatcher = ChannelDispatcher(
                    name: channel.name, plugin: instance, store: store, config: config, clock: clock, logger: logger,
                    metrics: metrics, events: events, rules: rules, addressKind: addressKind,
                    startPlugin: { config throws(PluginRefusal) in
                        try PluginLoader.start(channel: config, directory: directory, logger: logger)
                    })
                return ChannelRuntime(name: channel.name, plugin: channel.plugin, state: .running(instance, dispatcher))
            } catch {
                logger.error("channel \(channel.name) is down: \(error.description)")
                return ChannelRuntime(name: channel.name, plugin: channel.plugin, state: .failed(error.description))
            }
        }
    }

    public func channel(named name: String) -> ChannelRuntime? { channels.first { $0.name == name } }

    /// Which of a lead's addresses a channel sends to.
    public func addressKind(channel name: String) -> AddressKind {
        Self.addressKind(channel: name, config: config.current, pluginKind: pluginKinds.kind(of: name))
    }

    static func addressKind(channel: String, config: LeaddConfig, pluginKind: String?) -> AddressKind {
        if let kind = config.channel(named: channel)?.address { return kind }
        return pluginKind == "email" ? .email : .phone
    }

    /// Re-reads the config file, telling systemd (RELOADING=1, then READY=1) and the log. A bad file
    /// is refused and the running config kept. SIGHUP and `config.reload` both come here.
    public func reloadConfig() throws(ConfigError) -> ConfigHolder.ReloadReport {
        notifier.reloading()
        do {
            let report = try config.reload()
            let restart = report.restartRequired
            logger.info(
                "configuration reloaded from \(config.path)\(restart.isEmpty ? "" : "; needs a restart to apply: \(restart.joined(separator: ", "))")"
            )
            notifier.reloaded(status: "configuration reloaded")
            metrics.recordReload(ok: true)
            events.publish([LeaddEvent(type: "reload", at: clock.nowMilliseconds(), detail: "applied")])
            return report
        } catch {
            logger.error("configuration reload refused, keeping the running one: \(error)")
            notifier.reloaded(status: "configuration reload refused: \(error)")
            metrics.recordReload(ok: false)
            events.publish([LeaddEvent(type: "reload", at: clock.nowMilliseconds(), detail: "refused: \(error)")])
            throw error
        }
    }

    /// Fills the in-memory directories from the store; called once before dispatch starts.
    public func loadDirectories() async throws {
        var after = ""
        while true {
            let page = try await store.tenants(after: after, limit: 1000)
            rules.tenants.load(page)
            guard let last = page.last, page.count == 1000 else { break }
            after = last.id
        }
        after = ""
        while true {
            let page = try await store.campaigns(tenant: nil, after: after, limit: 1000)
            rules.campaigns.load(page)
            guard let last = page.last, page.count == 1000 else { break }
            after = last.id
        }
        after = ""
        while true {
            let page = try await store.senders(after: after, limit: 1000)
            rules.senders.load(page)
            guard let last = page.last, page.count == 1000 else { break }
            after = last.id
        }
        var position = ("", "")
        while true {
            let page = try await store.suppressions(tenant: nil, after: position, limit: 5000)
            rules.suppressions.load(page)
            guard let last = page.last, page.count == 5000 else { break }
            position = (last.tenant, last.address)
        }
    }

    /// True when every running channel's dispatch loop has gone round within `interval`.
    public func dispatchersAlive(within interval: Duration) -> Bool {
        channels.allSatisfy { $0.dispatcher?.isAlive(within: interval) ?? true }
    }

    /// Runs every channel's dispatcher until cancelled, then stops the plugins.
    public func runDispatchers() async {
        await withTaskGroup(of: Void.self) { group in
            for channel in channels {
                if let dispatcher = channel.dispatcher { group.addTask { await dispatcher.run() } }
            }
        }
        for channel in channels {
            if case .running(let instance, let dispatcher) = channel.state {
                dispatcher.stopSenders()
                instance.shutdown()
            }
        }
    }
}

/// Each loaded channel's plugin kind, filled as plugins load and read by fallbacks.
final class PluginKinds: Sendable {
    private let kinds = Locked<[String: String]>([:])

    func set(_ channel: String, _ kind: String) { kinds.withLock { $0[channel] = kind } }

    func kind(of channel: String) -> String? { kinds.withLock { $0[channel] } }
}
