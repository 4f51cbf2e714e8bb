// The provider callback listener (Hummingbird, loopback only, meant to sit behind a reverse
// proxy that terminates TLS). Every route checks the provider's proof before believing a word:
//
//   POST /twilio/status     Twilio status callback        X-Twilio-Signature (HMAC-SHA1)
//   POST /twilio/inbound    Twilio incoming message       X-Twilio-Signature
//   GET  /whatsapp          Meta's verification handshake hub.verify_token
//   POST /whatsapp          Cloud API statuses and messages X-Hub-Signature-256 (HMAC-SHA256)
//   GET  /kannel/dlr        Kannel delivery report        token= (kannel_token; refused without one)
//   GET  /kannel/inbound    Kannel sms-service (MO)       token= (kannel_token; refused without one)
//   POST /unsubscribe/TOKEN one-click unsubscribe (RFC 8058), the token signs tenant and address
//
// Refused requests get 403 and are counted (leadd_webhooks_total{result="refused"}); bodies over
// `max_body_bytes` get 413.
import Foundation
import Hummingbird
import LeaddProtocol
import Logging

public struct WebhookServer: Sendable {
    let feedback: FeedbackService
    let config: WebhookConfig
    let logger: Logger

    public init(feedback: FeedbackService, config: WebhookConfig, logger: Logger) {
        self.feedback = feedback
        self.config = config
        self.logger = logger
    }

    /// The HTTP application, to run as a service of the daemon's ServiceGroup.
    public func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/twilio/status") { request, _ in await self.twilio(request, inbound: false) }
        router.post("/twilio/inbound") { request, _ in await self.twilio(request, inbound: true) }
        router.get("/whatsapp") { request, _ in self.whatsappHandshake(request) }
        router.post("/whatsapp") { request, _ in await self.whatsapp(request) }
        router.on("/kannel/dlr", method: .get) { request, _ in await self.kannel(request, inbound: false) }
        router.on("/kannel/dlr", method: .post) { request, _ in await self.kannel(request, inbound: false) }
        router.on("/kannel/inbound", method: .get) { request, _ in await self.kannel(request, inbound: true) }
        router.on("/kannel/inbound", method: .post) { request, _ in await self.kannel(request, inbound: true) }
        router.post("/unsubscribe/{token}") { request, context in
            await self.unsubscribe(context.parameters.get("token"))
        }
        router.get("/unsubscribe/{token}") { _, _ in
            Self.reply(.ok, "To unsubscribe, POST to this address (or use your mail program's unsubscribe button).\n")
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(config.listen.host, port: config.listen.port), serverName: "leadd"),
            logger: logger)
    }

    // MARK: Twilio

    func twilio(_ request: Request, inbound: Bool) async -> Response {
        var request = request
        guard let body = await Self.body(&request, limit: config.maxBodyBytes) else {
            return refuse("twilio", .contentTooLarge, "body over \(config.maxBodyBytes) bytes")
        }
        let form = FormDecoding.decode(String(decoding: body, as: UTF8.self))
        guard let token = config.twilioAuthToken else {
            return refuse("twilio", .forbidden, "no twilio_auth_token is configured")
        }
        let url = config.publicURL + request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        let expected = Signatures.twilio(url: url, parameters: form, authToken: token)
        guard Signatures.matches(request.headers[values: .init("X-Twilio-Signature")!].first, expected) else {
            return refuse("twilio", .forbidden, "missing or wrong X-Twilio-Signature")
        }
        let fields = Dictionary(form, uniquingKeysWith: { first, _ in first })
        let now = feedback.runtime.clock.nowMilliseconds()
        do {
            if inbound {
                guard let from = fields["From"], let text = fields["Body"] else {
                    return bad("twilio", "From and Body")
                }
                _ = try await feedback.inbound(
                    InboundMessage(channel: config.twilioChannel, from: from, to: fields["To"], text: text, at: now))
            } else {
                guard let sid = fields["MessageSid"] ?? fields["SmsSid"], let status = fields["MessageStatus"] else {
                    return bad("twilio", "MessageSid and MessageStatus")
                }
                // queued, sending, sent and accepted say nothing new; the others are receipts.
                let mapped: Receipt.Status? =
                    switch status {
                    case "delivered": .delivered
                    case "read": .read
                    case "undelivered", "failed": .undelivered
                    default: nil
                    }
                if let mapped {
                    let detail = [status, fields["ErrorCode"].map { "error \($0)" }].compactMap { $0 }.joined(
                        separator: " ")
                    _ = try await feedback.receipt(
                        Receipt(
                            target: .provider(channel: config.twilioChannel, id: sid), status: mapped, at: now,
                            detail: detail))
                }
            }
        } catch {
            return failed("twilio", error)
        }
        return accept("twilio")
    }

    // MARK: WhatsApp

    func whatsappHandshake(_ request: Request) -> Response {
        let query = Dictionary(FormDecoding.decode(request.uri.query ?? ""), uniquingKeysWith: { first, _ in first })
        guard query["hub.mode"] == "subscribe", let challenge = query["hub.challenge"],
            let token = config.whatsappVerifyToken, Signatures.matches(query["hub.verify_token"], token)
        else { return refuse("whatsapp", .forbidden, "verification with a wrong or missing hub.verify_token") }
        feedback.runtime.metrics.recordWebhook(provider: "whatsapp", result: "verified")
        return Self.reply(.ok, challenge)
    }

    func whatsapp(_ request: Request) async -> Response {
        var request = request
        guard let body = await Self.body(&request, limit: config.maxBodyBytes) else {
            return refuse("whatsapp", .contentTooLarge, "body over \(config.maxBodyBytes) bytes")
        }
        guard let secret = config.whatsappAppSecret else {
            return refuse("whatsapp", .forbidden, "no whatsapp_app_secret is configured")
        }
        let expected = Signatures.whatsapp(body: body, appSecret: secret)
        guard Signatures.matches(request.headers[values: .init("X-Hub-Signature-256")!].first, expected) else {
            return refuse("whatsapp", .forbidden, "missing or wrong X-Hub-Signature-256")
        }
        guard let payload = try? body.withUnsafeBufferPointer({ try JSONValue.parse($0) }) else {
            return bad("whatsapp", "a JSON body")
        }
        let now = feedback.runtime.clock.nowMilliseconds()
        do {
            for entry in payload["entry"]?.arrayValue ?? [] {
                for change in entry["changes"]?.arrayValue ?? [] {
                    let value = change["value"]
                    for status in value?["statuses"]?.arrayValue ?? [] {
                        guard let id = status["id"]?.stringValue, let word = status["status"]?.stringValue else {
                            continue
                        }
                        let mapped: Receipt.Status? =
                            switch word {
                            case "delivered": .delivered
                            case "read": .read
                            case "failed": .undelivered
                            default: nil
                            }
                        guard let mapped else { continue }
                        let reason = status["errors"]?.arrayValue?.first.map { error in
                            "error \(error["code"]?.int64Value.map(String.init) ?? "?"): \(error["title"]?.stringValue ?? "")"
                        }
                        _ = try await feedback.receipt(
                            Receipt(
                                target: .provider(channel: config.whatsappChannel, id: id), status: mapped, at: now,
                                detail: [word, reason].compactMap { $0 }.joined(separator: " ")))
                    }
                    for message in value?["messages"]?.arrayValue ?? [] {
                        guard let from = message["from"]?.stringValue else { continue }
                        let text =
                            message["text"]?["body"]?.stringValue ?? message["button"]?["text"]?.stringValue ?? ""
                        _ = try await feedback.inbound(
                            InboundMessage(
                                channel: config.whatsappChannel, from: from,
                                to: value?["metadata"]?["phone_number_id"]?.stringValue
                                    ?? value?["metadata"]?["display_phone_number"]?.stringValue, text: text, at: now))
                    }
                }
            }
        } catch {
            return failed("whatsapp", error)
        }
        return accept("whatsapp")
    }

    // MARK: Kannel

    /// Kannel fills its URL templates: dlr-url with leadd's `id` and `status=%d`; an sms-service
    /// get-url with `from=%p`, `to=%P` and `text=%a`.
    func kannel(_ request: Request, inbound: Bool) async -> Response {
        var request = request
        guard let body = await Self.body(&request, limit: config.maxBodyBytes) else {
            return refuse("kannel", .contentTooLarge, "body over \(config.maxBodyBytes) bytes")
        }
        var pairs = FormDecoding.decode(request.uri.query ?? "")
        if request.method == .post { pairs += FormDecoding.decode(String(decoding: body, as: UTF8.self)) }
        let fields = Dictionary(pairs, uniquingKeysWith: { first, _ in first })
        // Kannel signs nothing: the shared token is the only proof, so without one configured
        // every call is refused (a forged STOP would suppress a lead, a forged report start a
        // paid fallback send).
        guard let token = config.kannelToken else {
            return refuse("kannel", .forbidden, "webhooks.kannel_token is not set, so Kannel callbacks are refused")
        }
        if !Signatures.matches(fields["token"], token) {
            return refuse("kannel", .forbidden, "missing or wrong token")
        }
        let now = feedback.runtime.clock.nowMilliseconds()
        do {
            if inbound {
                guard let from = fields["from"], let text = fields["text"] else {
                    return bad("kannel", "from and text")
                }
                _ = try await feedback.inbound(
                    InboundMessage(channel: config.kannelChannel, from: from, to: fields["to"], text: text, at: now))
                // smsbox sends a service's answer back as an SMS; an empty one sends nothing.
                return Self.reply(.ok, "")
            }
            guard let id = fields["id"].flatMap({ Int64($0) }), let code = fields["status"].flatMap({ Int($0) }) else {
                return bad("kannel", "id and status")
            }
            // Kannel's DLR types: 1 delivered, 2 undelivered, 16 refused by the SMSC; 4 (queued
            // at the SMSC) and 8 (SMSC accepted) say nothing new.
            let mapped: Receipt.Status? =
                switch code {
                case 1: .delivered
                case 2, 16: .undelivered
                default: nil
                }
            if let mapped {
                _ = try await feedback.receipt(
                    Receipt(target: .message(id), status: mapped, at: now, detail: "kannel dlr \(code)"))
            }
        } catch {
            return failed("kannel", error)
        }
        return accept("kannel")
    }

    // MARK: Unsubscribe

    func unsubscribe(_ token: String?) async -> Response {
        do {
            guard let token, try await feedback.unsubscribe(token: token) != nil else {
                return refuse("unsubscribe", .forbidden, "not a valid unsubscribe token")
            }
        } catch {
            return failed("unsubscribe", error)
        }
        feedback.runtime.metrics.recordWebhook(provider: "unsubscribe", result: "accepted")
        return Self.reply(.ok, "You are unsubscribed.\n")
    }

    // MARK: Answers

    func accept(_ provider: String) -> Response {
        feedback.runtime.metrics.recordWebhook(provider: provider, result: "accepted")
        return Self.reply(.ok, "ok\n")
    }

    func refuse(_ provider: String, _ status: HTTPResponse.Status, _ reason: String) -> Response {
        feedback.runtime.metrics.recordWebhook(provider: provider, result: "refused")
        logger.warning("webhook \(provider) refused: \(reason)")
        return Self.reply(status, "refused: \(reason)\n")
    }

    func bad(_ provider: String, _ needed: String) -> Response {
        feedback.runtime.metrics.recordWebhook(provider: provider, result: "bad")
        return Self.reply(.badRequest, "expected \(needed)\n")
    }

    func failed(_ provider: String, _ error: any Error) -> Response {
        feedback.runtime.metrics.recordWebhook(provider: provider, result: "failed")
        logger.error("webhook \(provider) could not be stored: \(error)")
        // A 5xx makes the provider send the callback again later.
        return Self.reply(.serviceUnavailable, "try again later\n")
    }

    static func reply(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The whole body, or nil when it is longer than `limit`.
    static func body(_ request: inout Request, limit: Int) async -> [UInt8]? {
        guard let buffer = try? await request.collectBody(upTo: limit) else { return nil }
        return Array(buffer.readableBytesView)
    }
}

/// application/x-www-form-urlencoded, read: "+" is a space, %XX a byte.
enum FormDecoding {
    static func decode(_ text: String) -> [(String, String)] {
        text.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first.map({ unescape($0) }), !name.isEmpty else { return nil }
            return (name, parts.count > 1 ? unescape(parts[1]) : "")
        }
    }

    static func unescape(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(32)
            } else if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
