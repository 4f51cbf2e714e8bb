// The providers' own ways of signing their callbacks, so leadd can refuse forged ones.
import Crypto
import Foundation

enum Signatures {
    /// Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL
    /// Twilio called followed by every POST parameter's name and value, sorted by name
    /// (https://www.twilio.com/docs/usage/security#validating-requests).
    static func twilio(url: String, parameters: [(String, String)], authToken: String) -> String {
        var data = url
        for (name, value) in parameters.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) { data += name + value }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data(data.utf8), using: SymmetricKey(data: Data(authToken.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Meta's X-Hub-Signature-256: "sha256=" and the hex HMAC-SHA256 of the raw body, keyed with
    /// the app secret (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).
    static func whatsapp(body: [UInt8], appSecret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(appSecret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Compares in time that does not depend on where the texts differ.
    static func matches(_ given: String?, _ expected: String) -> Bool {
        guard let given else { return false }
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// The token in a one-click unsubscribe link: the tenant and address, signed, so a link works
/// only for the address it was made for.
enum UnsubscribeToken {
    static func make(tenant: String, address: String, secret: String) -> String {
        let payload = Data("\(tenant)\n\(address)".utf8).base64URLEncoded
        return payload + "." + signature(payload, secret)
    }

    /// The (tenant, address) a genuine token names; nil for anything else.
    static func read(_ token: String, secret: String) -> (tenant: String, address: String)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, Signatures.matches(String(parts[1]), signature(String(parts[0]), secret)),
            let data = Data(base64URLEncoded: String(parts[0]))
        else { return nil }
        let fields = String(decoding: data, as: UTF8.self).split(separator: "\n", maxSplits: 1)
        guard fields.count == 2 else { return nil }
        return (String(fields[0]), String(fields[1]))
    }

    private static func signature(_ payload: String, _ secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64URLEncoded
    }
}

extension Data {
    /// RFC 4648 §5 base64url without padding, safe in a URL path.
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init?(base64URLEncoded text: String) {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        self.init(base64Encoded: standard)
    }
}
