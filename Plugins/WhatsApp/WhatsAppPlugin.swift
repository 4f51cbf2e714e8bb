// The WhatsApp channel: Meta's WhatsApp Business Cloud API,
// POST {base_url}/{api_version}/{phone_number_id}/messages with a bearer token
// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages).
//
// Settings: phone_number_id (required), access_token (secret, required), api_version
// (default v23.0), base_url (default https://graph.facebook.com), plus PluginKit's transport
// settings (connections, timeout, connect_timeout, ca_file, tls_verify).
//
// A message whose content has `template` goes as a template message (name, language, body
// parameters in order); otherwise `text` goes as a text message. Error codes and what they
// mean for the message are in CloudAPIErrors.swift.
import PluginAPI
import PluginKit

@_cdecl("leadd_plugin_entry")
public func leaddPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
    PluginExport.table(
        for: WhatsAppPlugin.self, name: "whatsapp-cloud", version: "1.0.0", kind: "whatsapp", hostMajor: hostMajor)
}

final class WhatsAppPlugin: TransferPlugin {
    let channel: TransferChannel

    init(settingsJSON: String, host: PluginHost) throws {
        channel = try TransferChannel(settingsJSON: settingsJSON, host: host, name: "leadd-whatsapp") {
            try CloudAPIProvider(settings: &$0)
        }
    }
}
