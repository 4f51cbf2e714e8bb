import LeaddSync
// The live configuration, swapped whole on reload. Readers take a snapshot per use.
import Synchronization

public final class ConfigHolder: Sendable {
    private let value: Locked<LeaddConfig>
    public let path: String
    private let reloads = Atomic<Int>(0)

    /// Counts applied reloads, so that what was derived from an older config can be told apart.
    public var generation: Int { reloads.load(ordering: .acquiring) }

    public init(_ config: LeaddConfig, path: String) {
        self.value = Locked(config)
        self.path = path
    }

    public var current: LeaddConfig { value.withLock { $0 } }

    /// What a reload changed, and what needs a restart to take effect.
    public struct ReloadReport: Sendable, Equatable {
        public var applied: Bool
        public var restartRequired: [String]
    }

    /// Reads and validates the file; on error the running config stays as it was.
    public func reload() throws(ConfigError) -> ReloadReport {
        let new = try ConfigDecoder.load(path: path)
        return value.withLock { old in
            var restart: [String] = []
            if old.daemon != new.daemon { restart.append("daemon") }
            if old.store != new.store { restart.append("store") }
            if old.cache != new.cache { restart.append("cache") }
            let oldChannels = Dictionary(uniqueKeysWithValues: old.channels.map { ($0.name, $0) })
            let newChannels = Dictionary(uniqueKeysWithValues: new.channels.map { ($0.name, $0) })
            for name in Set(oldChannels.keys).union(newChannels.keys).sorted() {
                let before = oldChannels[name]
                let after = newChannels[name]
                if before?.plugin != after?.plugin || before?.settingsJSON != after?.settingsJSON {
                    restart.append("channels.\(name)")
                }
            }
            // Channels keep their plugin and settings until a restart; everything else applies now.
            var merged = new
            merged.daemon = old.daemon
            merged.store = old.store
            merged.cache = old.cache
            merged.channels = new.channels.compactMap { channel in
                guard let before = oldChannels[channel.name] else { return nil }
                var c = channel
                c.plugin = before.plugin
                c.settingsJSON = before.settingsJSON
                return c
            }
            // Channels removed from the file keep running until a restart.
            for channel in old.channels where newChannels[channel.name] == nil { merged.channels.append(channel) }
            old = merged
            reloads.add(1, ordering: .acquiringAndReleasing)
            return ReloadReport(applied: true, restartRequired: restart)
        }
    }
}
