internal import CLeaddPlugin
import LeaddSync

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns a Swift `ChannelPlugin` type into the C table leadd loads. A plugin exports it as:
///
/// ```swift
/// @_cdecl("leadd_plugin_entry")
/// public func leaddPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? {
///     PluginExport.table(for: MyPlugin.self, name: "my-sms", version: "1.0.0", kind: "sms",
///                        hostMajor: major)
/// }
/// ```
public enum PluginExport {
    /// Returns the table for `plugin`, made once and kept for the life of the process, or nil when
    /// the host speaks another ABI major.
    public static func table<P: ChannelPlugin>(
        for plugin: P.Type, name: String, version: String, kind: String, hostMajor: UInt32
    ) -> UnsafeRawPointer? {
        guard hostMajor == PluginABI.major else { return nil }
        return TableCache.shared.table(key: name) {
            makeTable(factory: { try P(settingsJSON: $0, host: $1) }, name: name, version: version, kind: kind)
        }
    }

    static func makeTable(
        factory: @escaping @Sendable (String, PluginHost) throws -> any ChannelPlugin,
        name: String, version: String, kind: String
    ) -> UnsafeRawPointer {
        let table = UnsafeMutablePointer<leadd_plugin>.allocate(capacity: 1)
        table.initialize(
            to: leadd_plugin(
                struct_size: UInt32(MemoryLayout<leadd_plugin>.size),
                abi_major: PluginABI.major,
                abi_minor: PluginABI.minor,
                name: strdup(name),
                version: strdup(version),
                channel_kind: strdup(kind),
                plugin_context: Unmanaged.passRetained(FactoryBox(factory)).toOpaque(),
                create: { context, settings, host, instanceOut, errorBuffer, capacity in
                    guard let context, let settings, let host, let instanceOut else { return 1 }
                    let factory = Unmanaged<FactoryBox>.fromOpaque(context).takeUnretainedValue().make
                    do {
                        let instance = try factory(String(cString: settings), PluginHost(table: host))
                        instanceOut.pointee = Unmanaged.passRetained(InstanceBox(instance)).toOpaque()
                        return 0
                    } catch {
                        writeCString(String(describing: error), into: errorBuffer, capacity: capacity)
                        return 1
                    }
                },
                send_batch: { instance, messages, count in
                    guard let instance, let messages else { return }
                    let plugin = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue().plugin
                    var batch: [PluginMessage] = []
                    batch.reserveCapacity(count)
                    for index in 0..<count {
                        guard let m = messages[index]?.pointee else { continue }
                        batch.append(
                            PluginMessage(
                                token: m.token,
                                id: copyCString(m.id) ?? "",
                                idempotencyKey: copyCString(m.idempotency_key) ?? "",
                                tenant: copyCString(m.tenant) ?? "",
                                to: copyCString(m.to) ?? "",
                                contentJSON: copyCString(m.content_json) ?? "{}",
                                dueAtMilliseconds: m.due_at_ms,
                                attempt: m.attempt
                            )
                        )
                    }
                    plugin.send(batch)
                },
                health: { instance, out, capacity in
                    guard let instance else { return 1 }
                    let plugin = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue().plugin
                    let problem = plugin.healthProblem()
                    writeCString(problem ?? "ok", into: out, capacity: capacity)
                    return problem == nil ? 0 : 1
                },
                destroy: { instance in
                    guard let instance else { return }
                    let box = Unmanaged<InstanceBox>.fromOpaque(instance)
                    box.takeUnretainedValue().plugin.shutdown()
                    box.release()
                }
            )
        )
        return UnsafeRawPointer(table)
    }
}

func writeCString(_ text: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    let bytes = Array(text.utf8.prefix(capacity - 1))
    for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
    buffer[bytes.count] = 0
}

private final class FactoryBox: Sendable {
    let make: @Sendable (String, PluginHost) throws -> any ChannelPlugin
    init(_ make: @escaping @Sendable (String, PluginHost) throws -> any ChannelPlugin) { self.make = make }
}

private final class InstanceBox {
    let plugin: any ChannelPlugin
    init(_ plugin: any ChannelPlugin) { self.plugin = plugin }
}

/// One table per plugin image and name, so repeated entry calls return the same pointer.
private final class TableCache: Sendable {
    static let shared = TableCache()
    // Addresses as integers: the tables are immutable once made and live for the process.
    private let tables = Locked<[String: UInt]>([:])

    func table(key: String, make: () -> UnsafeRawPointer) -> UnsafeRawPointer {
        let address = tables.withLock { tables in
            if let address = tables[key] { return address }
            let address = UInt(bitPattern: make())
            tables[key] = address
            return address
        }
        return UnsafeRawPointer(bitPattern: address)!
    }
}
