import PluginAPI

/// How a plugin's transfers are made: limits and TLS trust, from the channel's settings.
public struct TransportSettings: Sendable {
    /// Transfers in flight at once; connections are kept alive and reused up to this many.
    public var connections: Int = 8
    /// Longest a whole transfer may take, in milliseconds.
    public var timeoutMilliseconds: Int = 30_000
    /// Longest a connection (with its TLS handshake) may take, in milliseconds.
    public var connectTimeoutMilliseconds: Int = 10_000
    /// Extra CA bundle (PEM) to trust, e.g. for a private relay's certificate.
    public var caFile: String?
    /// Check the server's certificate and name; off only for tests against a self-signed peer.
    public var verifyTLS: Bool = true

    public init() {}

    /// Reads `connections`, `timeout`, `connect_timeout`, `ca_file` and `tls_verify`.
    public init(from settings: inout PluginSettings) throws(PluginSetupError) {
        if let n = try settings.integer("connections", in: 1...1024) { connections = n }
        if let t = try settings.duration("timeout") { timeoutMilliseconds = t }
        if let t = try settings.duration("connect_timeout") { connectTimeoutMilliseconds = t }
        caFile = try settings.string("ca_file")
        if let v = try settings.bool("tls_verify") { verifyTLS = v }
    }
}
