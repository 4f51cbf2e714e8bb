import Foundation
import LeaddProtocol
import PluginAPI

/// A channel plugin library loaded the way leadd loads it (dlopen, the versioned entry symbol),
/// with one instance made from `settings`, for tests that talk to a real peer.
struct LoadedPlugin {
    let instance: PluginInstance

    init(_ library: String, settings: JSONObject) throws {
        let file = productsDirectory + "/lib\(library).so"
        guard let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw PeerError(description: "cannot load \(file): \(String(cString: dlerror()))")
        }
        guard let symbol = dlsym(handle, PluginABI.entrySymbol) else {
            throw PeerError(description: "\(file) has no \(PluginABI.entrySymbol)")
        }
        typealias Entry = @convention(c) (UInt32, UInt32) -> UnsafeRawPointer?
        guard let table = unsafeBitCast(symbol, to: Entry.self)(PluginABI.major, PluginABI.minor) else {
            throw PeerError(description: "\(file) refused ABI \(PluginABI.major)")
        }
        instance = try PluginInstance(
            table: PluginTable(entry: table, file: file), settingsJSON: JSONValue.object(settings).serialized,
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
