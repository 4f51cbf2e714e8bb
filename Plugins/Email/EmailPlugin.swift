// The e-mail channel: SMTP submission through libcurl (STARTTLS, AUTH PLAIN/LOGIN, connections
// kept alive and reused across messages), each message built as MIME by MailComposer.
//
// Settings:
//   url              required: smtp://host:587 (STARTTLS) or smtps://host:465 (TLS from the start)
//   tls              required (default) | opportunistic | none: STARTTLS policy for smtp://
//   username         SMTP AUTH user; with password (a secret reference)
//   auth             PLAIN or LOGIN to insist on one mechanism (default: the best both offer)
//   from             required: "Name <address>" or "address"
//   reply_to         optional address
//   message_id_domain  the right-hand side of Message-IDs (default: the from address's domain)
//   plus PluginKit's transport settings (connections, timeout, connect_timeout, ca_file, tls_verify)
import PluginAPI
import PluginKit

@_cdecl("leadd_plugin_entry")
public func leaddPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
    PluginExport.table(for: EmailPlugin.self, name: "smtp", version: "1.0.0", kind: "email", hostMajor: hostMajor)
}

final class EmailPlugin: TransferPlugin {
    let channel: TransferChannel

    init(settingsJSON: String, host: PluginHost) throws {
        channel = try TransferChannel(settingsJSON: settingsJSON, host: host, name: "leadd-email") {
            try SMTPProvider(settings: &$0)
        }
    }
}
