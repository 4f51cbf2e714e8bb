import Foundation
import LeaddSecrets
import PluginAPI

/// A channel's `settings:` as a plugin reads them: typed getters that name the key in every
/// error, and a final check that refuses keys nobody read (a typo must not pass silently).
public struct PluginSettings {
    private let values: [String: Any]
    private var read: Set<String> = []
    /// Prefix for error messages, e.g. "settings" or "settings.twilio".
    public let path: String

    public init(json: String) throws(PluginSetupError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw PluginSetupError("settings: expected a mapping of keys to values")
        }
        self.init(values: object, path: "settings")
    }

    init(values: [String: Any], path: String) {
        self.values = values
        self.path = path
    }

    public func has(_ key: String) -> Bool { values[key] != nil }

    public mutating func string(_ key: String) throws(PluginSetupError) -> String? {
        guard let value = take(key) else { return nil }
        if let text = value as? String { return text }
        if let number = value as? NSNumber, !Self.isBoolean(value) { return number.stringValue }
        throw problem(key, "expected text")
    }

    public mutating func requiredString(_ key: String) throws(PluginSetupError) -> String {
        guard let text = try string(key), !text.isEmpty else { throw problem(key, "required") }
        return text
    }

    public mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(PluginSetupError) -> Int? {
        guard let value = take(key) else { return nil }
        guard let number = value as? Int, !Self.isBoolean(value) else { throw problem(key, "expected a whole number") }
        guard range.contains(number) else {
            throw problem(key, "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    public mutating func bool(_ key: String) throws(PluginSetupError) -> Bool? {
        guard let value = take(key) else { return nil }
        guard Self.isBoolean(value), let flag = value as? Bool else { throw problem(key, "expected true or false") }
        return flag
    }

    /// A duration in milliseconds: "250ms", "30s", "5m", or a number of seconds.
    public mutating func duration(_ key: String) throws(PluginSetupError) -> Int? {
        guard let value = take(key) else { return nil }
        if let seconds = value as? Int, !Self.isBoolean(value), seconds > 0 { return seconds * 1000 }
        guard let text = value as? String, let milliseconds = Self.milliseconds(text), milliseconds > 0 else {
            throw problem(key, "expected a duration such as 250ms, 30s or 5m")
        }
        return milliseconds
    }

    /// One of `choices`.
    public mutating func choice(_ key: String, _ choices: [String]) throws(PluginSetupError) -> String? {
        guard let text = try string(key) else { return nil }
        guard choices.contains(text) else {
            throw problem(key, "'\(text)' is not one of \(choices.joined(separator: ", "))")
        }
        return text
    }

    /// A secret named by reference (see `SecretReference`), read now.
    public mutating func secret(_ key: String) throws(PluginSetupError) -> String? {
        guard let value = take(key) else { return nil }
        do {
            return try SecretReference(value, key: "\(path).\(key)").read()
        } catch {
            throw PluginSetupError(error.description)
        }
    }

    public mutating func requiredSecret(_ key: String) throws(PluginSetupError) -> String {
        guard let secret = try secret(key) else { throw problem(key, "required (a file, env or credential reference)") }
        return secret
    }

    /// Refuses keys that were never read.
    public func finish() throws(PluginSetupError) {
        let unknown = Set(values.keys).subtracting(read).sorted()
        guard unknown.isEmpty else {
            throw PluginSetupError("\(path): unknown setting '\(unknown.joined(separator: "', '"))'")
        }
    }

    public func problem(_ key: String, _ reason: String) -> PluginSetupError {
        PluginSetupError("\(path).\(key): \(reason)")
    }

    private mutating func take(_ key: String) -> Any? {
        read.insert(key)
        guard let value = values[key], !(value is NSNull) else { return nil }
        return value
    }

    /// JSON's true and false, told apart from 1 and 0 (both arrive as NSNumber).
    static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    static func milliseconds(_ text: String) -> Int? {
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = Int(text.dropLast(suffix.count)) else { continue }
            return n * factor
        }
        return nil
    }
}
