import Foundation
import PluginAPI

/// Where a secret lives. Config never holds a secret itself, only one of:
///
///     {file: /etc/leadd/twilio-token}       a file (the first line is the secret)
///     {env: TWILIO_AUTH_TOKEN}              an environment variable
///     {credential: twilio-token}            a systemd credential (LoadCredential=), read from
///                                           $CREDENTIALS_DIRECTORY
///
/// Errors name the setting and the place, never the secret.
struct SecretReference {
    enum Source {
        case file(String)
        case environment(String)
        case credential(String)
    }

    let source: Source
    let key: String

    init(_ value: Any, key: String) throws(PluginSetupError) {
        self.key = key
        let usage =
            "\(key): give {file: PATH}, {env: NAME} or {credential: NAME}; secrets are not written in the config"
        guard let object = value as? [String: Any], object.count == 1, let (kind, raw) = object.first,
            let name = raw as? String, !name.isEmpty
        else { throw PluginSetupError(usage) }
        switch kind {
        case "file": source = .file(name)
        case "env": source = .environment(name)
        case "credential": source = .credential(name)
        default: throw PluginSetupError(usage)
        }
    }

    func read() throws(PluginSetupError) -> String {
        switch source {
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw PluginSetupError("\(key): environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            return try Self.firstLine(of: path, key: key)
        case .credential(let name):
            guard let directory = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] else {
                throw PluginSetupError(
                    "\(key): credential \(name) needs CREDENTIALS_DIRECTORY (systemd LoadCredential=)")
            }
            return try Self.firstLine(of: "\(directory)/\(name)", key: key)
        }
    }

    private static func firstLine(of path: String, key: String) throws(PluginSetupError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginSetupError("\(key): cannot read \(path)")
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init)
        guard let line, !line.isEmpty else { throw PluginSetupError("\(key): \(path) is empty") }
        return line
    }
}
