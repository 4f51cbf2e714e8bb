// One identity a channel sends from: a WhatsApp business number, an SMS from-number or Kannel
// account, a mail account. Its settings are laid over the channel's plugin settings key by key,
// so a sender names only what differs (`phone_number_id`, `token`, `from`, ...); secrets in them
// are references ({file|env|credential}), never the secret itself. Each sender has its own
// rate limit, concurrency and circuit breaker.

import Foundation

public struct Sender: Sendable, Equatable {
    public enum Origin: String, Sendable, Equatable {
        /// Declared under `channels.<name>.senders` in the config file.
        case config
        /// Stored with `sender.put`.
        case stored
    }

    public var id: String
    public var channel: String
    /// The `settings:` overrides as a JSON object text.
    public var settingsJSON = "{}"
    public var rate: Rate?
    /// Sends allowed at once after a quiet spell; default one second's worth of `rate`.
    public var burst: Int?
    /// Plugin calls in flight at once on this sender.
    public var concurrency = 4
    public var origin = Origin.config
    public var createdAt: Int64 = 0
    public var updatedAt: Int64 = 0

    public init(id: String, channel: String) {
        self.id = id
        self.channel = channel
    }

    /// The same rule as channel names, so ids read well in logs, metrics and breaker lists.
    public static let idPattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

    public static func isValidID(_ id: String) -> Bool {
        id.range(of: idPattern, options: .regularExpression) != nil
    }
}
