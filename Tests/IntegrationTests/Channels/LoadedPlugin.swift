import Foundation
import LeaddProtocol
import PluginAPI

/// A channel plugin library loaded the way leadd loads it (dlopen, the versioned entry symbol),
/// with one instance made from `settings`, for tests that talk to a real peer.
struct LoadedPlugin {
    let instance: PluginInstance

    init(_ library: String, settings: JSONObject) throws {
        let file = productsDirectory + "/lib\(library).so"
        instance = try PluginInstance(
            table: PluginTable.load(file: file), settingsJSON: JSONValue.object(settings).serialized,
            services: PluginHostServices(
                log: { _, _ in }, nowMilliseconds: { Int64(Date().timeIntervalSince1970 * 1000) }))
    }

    /// Sends one message per (recipient, content JSON) and waits for every result.
    func send(_ messages: [(to: String, content: JSONObject)], tenant: String = "acme") async -> [PluginResult] {
        await instance.send(
            messages.enumerated().map { index, message in
                OutboundMessage(
                    id: "m\(index)", idempotencyKey: "key-\(index)", tenant: tenant, to: message.to,
                    contentJSON: JSONValue.object(message.content).serialized, dueAtMilliseconds: 0, attempt: 1)
            })
    }

    func send(to: String, _ content: JSONObject) async -> PluginResult {
        await send([(to, content)])[0]
    }
}
