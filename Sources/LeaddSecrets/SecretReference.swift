import Foundation

/// Where a secret lives. Config never holds a secret itself, only one of:
///
///     {file: /etc/leadd/twilio-token}       a file (the first line is the secret)
///     {env: TWILIO_AUTH_TOKEN}              an environment variable
///     {credential: twilio-token}            a systemd credential (LoadCredential=), read from
///                                           $CREDENTIALS_DIRECTORY
///
/// Errors name the setting and the place, never the secret. Shared by the daemon's config and
/// the channel plugins.
public struct SecretReference: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case file(String)
        case environment(String)
        case credential(String)
    }

    public let source: Source
    /// The setting's dotted name, for messages.
    public let key: String

    /// Reads a reference from a decoded value (a one-key mapping); `nil` with the reason otherwise.
    public init(_ value: Any, key: String) throws(SecretError) {
        self.key = key
        let usage =
            "\(key): give {file: PATH}, {env: NAME} or {credential: NAME}; secrets are not written in the config"
        guard let object = value as? [String: Any], object.count == 1, let (kind, raw) = object.first,
            let name = raw as? String, !name.isEmpty
        else { throw SecretError(description: usage) }
        switch kind {
        case "file": source = .file(name)
        case "env": source = .environment(name)
        case "credential": source = .credential(name)
        default: throw SecretError(description: usage)
        }
    }

    public func read() throws(SecretError) -> String {
        switch source {
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw SecretError(description: "\(key): environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            return try Self.firstLine(of: path, key: key)
        case .credential(let name):
            guard let directory = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] else {
                throw SecretError(
                    description: "\(key): credential \(name) needs CREDENTIALS_DIRECTORY (systemd LoadCredential=)")
            }
            return try Self.firstLine(of: "\(directory)/\(name)", key: key)
        }
    }

    private static func firstLine(of path: String, key: String) throws(SecretError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretError(description: "\(key): cannot read \(path)")
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init)
        guard let line, !line.isEmpty else { throw SecretError(description: "\(key): \(path) is empty") }
        return line
    }
}

/// Why a secret could not be read; names the setting and where it looked, never the secret.
public struct SecretError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
