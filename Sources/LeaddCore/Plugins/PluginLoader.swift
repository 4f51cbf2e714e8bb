// Finds channel plugins, loads them with dlopen and checks their ABI (through PluginTable).
// A plugin that fails to load takes only its own channel down; the others run.
import Foundation
import Logging
import PluginAPI

public enum PluginLoader {
    /// The directory plugins are looked up in when the config names none: the running
    /// executable's directory in a build tree, `<prefix>/lib/leadd/plugins` when installed.
    public static func defaultDirectory() -> String {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let directory = executable.deletingLastPathComponent()
        if directory.lastPathComponent == "bin" {
            return directory.deletingLastPathComponent().appendingPathComponent("lib/leadd/plugins").path
        }
        return directory.path
    }

    /// `TestChannel` -> `<directory>/libTestChannel.so`; a name with a `/` is a path.
    public static func resolve(_ plugin: String, directory: String) -> String {
        if plugin.contains("/") { return plugin }
        if plugin.hasSuffix(".so") { return directory + "/" + plugin }
        return directory + "/lib" + plugin + ".so"
    }

    /// Loads the library and validates its table. Never unloads: Swift code must not be dlclosed.
    public static func load(file: String) throws(PluginRefusal) -> PluginTable {
        try PluginTable.load(file: file)
    }

    /// Loads and starts the plugin instance for one channel.
    public static func start(channel: ChannelConfig, directory: String, logger: Logger) throws(PluginRefusal)
        -> PluginInstance
    {
        let file = resolve(channel.plugin, directory: directory)
        let table = try load(file: file)
        var pluginLogger = logger
        pluginLogger[metadataKey: "channel"] = .string(channel.name)
        pluginLogger[metadataKey: "plugin"] = .string(table.name)
        let services = PluginHostServices(
            log: { [pluginLogger] level, message in
                switch level {
                case .debug: pluginLogger.debug("\(message)")
                case .info: pluginLogger.info("\(message)")
                case .warning: pluginLogger.warning("\(message)")
                case .error: pluginLogger.error("\(message)")
                }
            },
            nowMilliseconds: { WallClock().nowMilliseconds() })
        return try PluginInstance(table: table, settingsJSON: channel.settingsJSON, services: services)
    }
}
