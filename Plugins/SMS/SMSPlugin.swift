// The SMS channel: one plugin, two provider protocols chosen by `provider:` in the settings.
//
//   provider: twilio   the Twilio Messages REST API (TwilioProvider.swift)
//   provider: kannel   Kannel's sendsms HTTP interface (KannelProvider.swift)
//
// Common settings: connections, timeout, connect_timeout, ca_file, tls_verify (PluginKit's
// TransportSettings). Secrets are references ({file: ...}, {env: ...}, {credential: ...}).
import PluginAPI
import PluginKit

@_cdecl("leadd_plugin_entry")
public func leaddPluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
    PluginExport.table(for: SMSPlugin.self, name: "sms", version: "1.0.0", kind: "sms", hostMajor: hostMajor)
}

final class SMSPlugin: TransferPlugin {
    let channel: TransferChannel

    init(settingsJSON: String, host: PluginHost) throws {
        channel = try TransferChannel(settingsJSON: settingsJSON, host: host, name: "leadd-sms") { settings in
            switch try settings.choice("provider", ["twilio", "kannel"]) {
            case "twilio": try TwilioProvider(settings: &settings)
            case "kannel": try KannelProvider(settings: &settings)
            default: throw settings.problem("provider", "required: twilio or kannel")
            }
        }
    }
}
