/// A configuration problem, pointing at the file, line and column, and the key at fault.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// The dotted key path, such as `channels.sms.rate`; empty for the whole file.
    public var key: String
    public var reason: String

    public var description: String {
        var place = file
        if let line {
            place += ":\(line)"
            if let column { place += ":\(column)" }
        }
        return key.isEmpty ? "\(place): \(reason)" : "\(place): \(key): \(reason)"
    }
}
