internal import CLeaddPlugin

/// What a channel plugin written in Swift implements. `PluginExport` turns a conforming type into
/// the C table that leadd loads; nothing of this protocol crosses the boundary.
public protocol ChannelPlugin: AnyObject, Sendable {
    /// Builds an instance for one channel. `settings` is the channel's `settings:` from the
    /// config, as a JSON object in text. Throw `PluginSetupError` with a precise reason.
    init(settingsJSON: String, host: PluginHost) throws

    /// Starts sending. Must return promptly; report each message with `host.complete`.
    func send(_ messages: [PluginMessage])

    /// `nil` when healthy, else a short reason.
    func healthProblem() -> String?

    /// Completes or abandons (as retry) every message still pending, then stops.
    func shutdown()
}

/// A reason a plugin could not start, shown to the operator.
public struct PluginSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The host's services, seen from a plugin.
public struct PluginHost: @unchecked Sendable {
    // The table is owned by the host and outlives the plugin instance: a call after `shutdown`
    // is safe, and ignored.
    let table: UnsafePointer<leadd_host>

    init(table: UnsafePointer<leadd_host>) { self.table = table }

    public func log(_ level: PluginLogLevel, _ message: String) {
        message.withCString { table.pointee.log(table.pointee.host_context, level.rawValue, $0) }
    }

    public func nowMilliseconds() -> Int64 {
        table.pointee.now_ms(table.pointee.host_context)
    }

    /// Reports the result of the message with `token`. Callable from any thread, once per token.
    public func complete(_ token: UInt64, _ result: PluginResult) {
        withCResult(result) { table.pointee.complete(table.pointee.host_context, token, $0) }
    }
}

func withCResult<R>(_ result: PluginResult, _ body: (UnsafePointer<leadd_result>) -> R) -> R {
    withOptionalCString(result.providerID) { providerID in
        withOptionalCString(result.detail) { detail in
            var c = leadd_result(
                struct_size: UInt32(MemoryLayout<leadd_result>.size),
                outcome: result.outcome.rawValue,
                retry_after_ms: result.retryAfterMilliseconds ?? -1,
                provider_id: providerID,
                detail: detail
            )
            return withUnsafePointer(to: &c) { body($0) }
        }
    }
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

func copyCString(_ pointer: UnsafePointer<CChar>?) -> String? {
    pointer.map { String(cString: $0) }
}
