internal import CLeaddPlugin

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the host refuses a plugin's table. The description names the file and both versions.
public struct PluginRefusal: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(description: String) { self.description = description }
}

/// A validated plugin table, seen from the host. Checking happens here, in one place.
///
/// Any table at least as large as an ABI 1.0 table is accepted: a plugin built against 1.0 keeps
/// loading after later minor versions append fields. The host keeps its own copy of the table in
/// its own layout, taken from the bytes the plugin declares (`struct_size`): a field past them
/// reads as NULL or zero, which means the plugin does not have it, and nothing past them is read.
public struct PluginTable: @unchecked Sendable {
    /// The plugin's table as far as it declares it; later fields zero (absent). The functions and
    /// strings it points to live for the rest of the process (plugins are never unloaded).
    let fields: leadd_plugin
    public let name: String
    public let version: String
    public let channelKind: String
    public let abiMajor: UInt32
    public let abiMinor: UInt32

    /// The smallest table accepted: an ABI 1.0 table, every field up to `destroy` (the header
    /// checks at compile time that this is where `destroy` ends).
    public static let minimumSize = Int(LEADD_PLUGIN_SIZE_1_0)

    /// Calls the entry point of a loaded library and checks what it returns.
    /// - Parameters:
    ///   - entry: the address of `leadd_plugin_entry` in the library.
    ///   - file: the library's path, for messages.
    public init(entry: UnsafeRawPointer, file: String) throws(PluginRefusal) {
        typealias Entry = @convention(c) (UInt32, UInt32) -> UnsafeRawPointer?
        let function = unsafeBitCast(entry, to: Entry.self)
        guard let raw = function(PluginABI.major, PluginABI.minor) else {
            throw PluginRefusal(
                description:
                    "plugin \(file) refused this leadd (ABI \(PluginABI.major).\(PluginABI.minor)): its entry returned no table"
            )
        }
        let table = raw.assumingMemoryBound(to: leadd_plugin.self)
        // The first three fields are stable across every version, so they are safe to read first.
        let size = Int(table.pointee.struct_size)
        let major = table.pointee.abi_major
        let minor = table.pointee.abi_minor
        guard major == PluginABI.major else {
            throw PluginRefusal(
                description:
                    "plugin \(file) has ABI \(major).\(minor), this leadd supports \(PluginABI.major).x"
            )
        }
        guard size >= Self.minimumSize else {
            throw PluginRefusal(
                description:
                    "plugin \(file) has ABI \(major).\(minor) but its table is \(size) bytes, smaller than the \(Self.minimumSize) bytes of an ABI 1.0 table"
            )
        }
        // Only the declared bytes are read; what this host knows beyond them stays zero.
        var t = leadd_plugin()
        withUnsafeMutableBytes(of: &t) { copy in
            copy.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(size, copy.count)))
        }
        guard t.create != nil, t.send_batch != nil, t.health != nil, t.destroy != nil else {
            throw PluginRefusal(
                description: "plugin \(file) has ABI \(major).\(minor) but leaves a required function empty")
        }
        self.fields = t
        self.abiMajor = major
        self.abiMinor = minor
        self.name = copyCString(t.name) ?? "unnamed"
        self.version = copyCString(t.version) ?? "0"
        self.channelKind = copyCString(t.channel_kind) ?? "unknown"
    }

    /// Opens the library at `file` with dlopen and validates its table. The library is never
    /// unloaded: Swift code must not be dlclosed.
    public static func load(file: String) throws(PluginRefusal) -> PluginTable {
        guard access(file, F_OK) == 0 else {
            throw PluginRefusal(description: "plugin \(file) does not exist")
        }
        guard let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw PluginRefusal(description: "plugin \(file) cannot be loaded: \(reason)")
        }
        guard let entry = dlsym(handle, PluginABI.entrySymbol) else {
            throw PluginRefusal(description: "plugin \(file) exports no \(PluginABI.entrySymbol) symbol")
        }
        return try PluginTable(entry: UnsafeRawPointer(entry), file: file)
    }
}
