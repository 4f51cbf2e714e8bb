import PluginAPI

/// A channel plugin that is one `TransferProvider` on a `TransferChannel`: the plugin type only
/// says which provider its settings make; sending, health and shutdown are the channel's.
public protocol TransferPlugin: ChannelPlugin {
    var channel: TransferChannel { get }
}

extension TransferPlugin {
    public func send(_ messages: [PluginMessage]) { channel.send(messages) }

    public func healthProblem() -> String? { channel.healthProblem() }

    public func shutdown() { channel.shutdown() }
}

extension TransferChannel {
    /// Reads the channel's settings: the provider's keys through `makeProvider`, then the transport
    /// keys; any key left over is refused.
    public convenience init(
        settingsJSON: String, host: PluginHost, name: String,
        makeProvider: (inout PluginSettings) throws -> any TransferProvider
    ) throws {
        var settings = try PluginSettings(json: settingsJSON)
        let provider = try makeProvider(&settings)
        let transport = try TransportSettings(from: &settings)
        try settings.finish()
        self.init(provider: provider, transport: transport, host: host, name: name)
    }
}
