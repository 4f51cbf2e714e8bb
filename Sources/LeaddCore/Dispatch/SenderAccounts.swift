// The plugin instances a channel's senders send through: one per sender, started with the
// channel's settings overlaid by the sender's, and started again when either changes. An
// instance replaced while a batch is still in its hands stops once that batch returns (the
// batch holds the last reference).
import Foundation
import LeaddProtocol
import LeaddSync
import Logging
import PluginAPI

/// Starts a plugin instance for a channel config (the runtime's PluginLoader, or a test's).
public typealias PluginStarter = @Sendable (ChannelConfig) throws(PluginRefusal) -> PluginInstance

final class SenderAccounts: Sendable {
    private struct Account {
        var settingsJSON: String
        var instance: PluginInstance
    }

    private struct State {
        var accounts: [String: Account] = [:]
        /// (directory version, config generation) last looked at.
        var seen = (-1, -1)
    }

    private let state = Locked(State())
    private let start: PluginStarter
    private let logger: Logger

    init(start: @escaping PluginStarter, logger: Logger) {
        self.start = start
        self.logger = logger
    }

    /// Brings the instances in line with the channel's senders when the directory or the config
    /// changed since the last look; returns the senders with whether each has an instance, or
    /// nil when nothing changed.
    func sync(
        channel: ChannelConfig?, directory: SenderDirectory, config: LeaddConfig, generation: Int
    ) -> [(Sender, Bool)]? {
        let seen = (directory.version, generation)
        guard let channel, state.withLock({ $0.seen != seen }) else { return nil }
        let senders = directory.senders(channel: channel.name, config: config)
        var current = state.withLock { $0.accounts }
        var result: [(Sender, Bool)] = []
        for sender in senders {
            let settings: String
            do {
                settings = try sender.settings(over: channel.settingsJSON)
            } catch {
                logger.error("sender \(sender.id): \(error)")
                current[sender.id] = nil
                result.append((sender, false))
                continue
            }
            if current[sender.id]?.settingsJSON == settings {
                result.append((sender, true))
                continue
            }
            var config = channel
            config.settingsJSON = settings
            do throws(PluginRefusal) {
                current[sender.id] = Account(settingsJSON: settings, instance: try start(config))
                logger.info("sender \(sender.id) started")
                result.append((sender, true))
            } catch {
                logger.error("sender \(sender.id) cannot start, its tenants wait: \(error.description)")
                current[sender.id] = nil
                result.append((sender, false))
            }
        }
        let ids = Set(senders.map(\.id))
        current = current.filter { ids.contains($0.key) }
        state.withLock {
            $0.accounts = current
            $0.seen = seen
        }
        return result
    }

    func instances(_ ids: [String]) -> [String: PluginInstance] {
        state.withLock { s in
            var found: [String: PluginInstance] = [:]
            for id in ids { found[id] = s.accounts[id]?.instance }
            return found
        }
    }

    /// Every sender's running instance.
    func all() -> [PluginInstance] { state.withLock { $0.accounts.values.map(\.instance) } }

    func shutdownAll() {
        let all = state.withLock { s in
            defer { s.accounts = [:] }
            return s.accounts.values.map(\.instance)
        }
        for instance in all { instance.shutdown() }
    }
}

extension Sender {
    /// The channel's plugin settings with this sender's laid over them, key by key.
    public func settings(over channelJSON: String) throws(SenderSettingsError) -> String {
        guard case .object(var merged) = try? JSONValue.parse(channelJSON) else {
            throw SenderSettingsError(description: "the channel's settings are not a JSON object")
        }
        guard case .object(let own) = try? JSONValue.parse(settingsJSON) else {
            throw SenderSettingsError(description: "settings must be an object")
        }
        for (key, value) in own { merged[key] = value }
        return JSONValue.object(merged).serialized
    }
}

public struct SenderSettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
