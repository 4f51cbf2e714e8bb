import Foundation
import LeaddProtocol
import PluginAPI
import Testing

/// The SMS plugin in Twilio mode against a mock that serves Twilio's own OpenAPI description and
/// validates every request against it (Tests/Peers/twilio_mock.py).
@Suite(.serialized) struct TwilioChannelTests {
    static let account = "AC0123456789abcdef0123456789abcdef"

    func mock() throws -> PeerProcess {
        try PeerProcess(
            "twilio_mock.py",
            ["--dir", "@DIR@", "--port", "@PORT@", "--account-sid", Self.account, "--auth-token-file", "@DIR@/token"]
        ) { try "twilio-token\n".write(toFile: $0 + "/token", atomically: true, encoding: .utf8) }
    }

    func plugin(_ mock: PeerProcess, token: String = "token") throws -> LoadedPlugin {
        try LoadedPlugin(
            "SMS",
            settings: JSONObject([
                "provider": "twilio", "base_url": .string("http://127.0.0.1:\(mock.port)"),
                "account_sid": .string(Self.account), "from": "+15005550006",
                "auth_token": .object(JSONObject(["file": .string(mock.directory + "/" + token)])),
                "status_callback": "https://hooks.example.com/twilio",
            ]))
    }

    @Test func messagesArriveAsTwilioForms() async throws {
        let mock = try mock()
        let sms = try plugin(mock)
        let results = await sms.send([
            ("+5511987654321", JSONObject(["text": "Olá, Ana! Até já 👋"])),
            ("+14155550100", JSONObject(["text": "Hi"])),
        ])
        #expect(results.map(\.outcome) == [.delivered, .delivered], "\(results)")
        #expect(results.allSatisfy { $0.providerID?.hasPrefix("SM") == true })
        let received = mock.received
        #expect(received.count == 2)
        let form = received.first?["form"]
        #expect(form?["To"] == "+5511987654321")
        #expect(form?["From"] == "+15005550006")
        #expect(form?["Body"] == "Olá, Ana! Até já 👋")
        #expect(form?["StatusCallback"] == "https://hooks.example.com/twilio")
        #expect(received.first?["auth_user"] == .string(Self.account))
        #expect(received.first?["path"] == .string("/2010-04-01/Accounts/\(Self.account)/Messages.json"))
        sms.instance.shutdown()
    }

    @Test func failuresAreClassified() async throws {
        let mock = try mock()
        func rule(_ to: String, _ status: Int64, code: Int64, retryAfter: String? = nil) -> JSONValue {
            var rule = JSONObject([
                "to_contains": .string(to), "status": .integer(status),
                "body": .object(
                    JSONObject([
                        "code": .integer(code), "message": "injected", "status": .integer(status),
                        "more_info": .string("https://www.twilio.com/docs/errors/\(code)"),
                    ])),
            ])
            if let retryAfter { rule["headers"] = .object(JSONObject(["Retry-After": .string(retryAfter)])) }
            return .object(rule)
        }
        try mock.inject(
            .array([
                rule("+1415555010", 429, code: 20429, retryAfter: "2"), rule("+1415555011", 400, code: 21211),
                rule("+1415555012", 500, code: 20500), rule("+1415555013", 503, code: 20503),
                rule("+1415555014", 400, code: 21610),
            ]))
        let sms = try plugin(mock)
        let text = JSONObject(["text": "hi"])
        let results = await sms.send(
            ["+14155550101", "+14155550111", "+14155550121", "+14155550131", "+14155550141", "+14155550151"].map {
                ($0, text)
            } + [("+14155550161", JSONObject())])
        #expect(
            results.map(\.outcome) == [
                .channelUnavailable, .failed, .channelUnavailable, .channelUnavailable, .failed, .delivered, .failed,
            ],
            "\(results)")
        #expect(results[0].retryAfterMilliseconds == 2000)
        #expect(results[1].detail?.contains("21211") == true)
        sms.instance.shutdown()
    }

    @Test func wrongCredentialsMakeTheChannelUnavailable() async throws {
        let mock = try mock()
        try "not-the-token\n".write(toFile: mock.directory + "/wrong", atomically: true, encoding: .utf8)
        let sms = try plugin(mock, token: "wrong")
        let result = await sms.send(to: "+14155550100", JSONObject(["text": "hi"]))
        #expect(result.outcome == .channelUnavailable)
        #expect(result.detail?.contains("20003") == true)
        #expect(result.detail?.contains("not-the-token") == false)
        sms.instance.shutdown()
    }
}
