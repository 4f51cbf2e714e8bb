import Foundation
import LeaddProtocol
import PluginAPI
import Testing

/// The WhatsApp plugin against a fake of the Cloud API written from Meta's API reference
/// (Tests/Peers/whatsapp_fake.py): no real Cloud API server can run locally.
@Suite(.serialized) struct WhatsAppChannelTests {
    func fake() throws -> PeerProcess {
        try PeerProcess(
            "whatsapp_fake.py",
            [
                "--dir", "@DIR@", "--port", "@PORT@", "--phone-number-id", "106540352242922", "--token-file",
                "@DIR@/token",
            ]
        ) { try "EAAG-test-token\n".write(toFile: $0 + "/token", atomically: true, encoding: .utf8) }
    }

    func plugin(_ fake: PeerProcess, token: String = "token") throws -> LoadedPlugin {
        try LoadedPlugin(
            "WhatsApp",
            settings: JSONObject([
                "base_url": .string("http://127.0.0.1:\(fake.port)"), "phone_number_id": "106540352242922",
                "access_token": .object(JSONObject(["file": .string(fake.directory + "/" + token)])),
            ]))
    }

    @Test func textAndTemplateMessages() async throws {
        let fake = try fake()
        let whatsapp = try plugin(fake)
        let template = JSONObject([
            "template": .object(
                JSONObject([
                    "name": "welcome_offer", "language": "pt_BR", "params": .array(["Ana", "20%"]),
                ]))
        ])
        let results = await whatsapp.send([
            ("+5511987654321", JSONObject(["text": "Olá, Ana! 👋"])), ("+5511987654321", template),
        ])
        #expect(results.map(\.outcome) == [.delivered, .delivered], "\(results)")
        #expect(results.allSatisfy { $0.providerID?.hasPrefix("wamid.") == true })
        let received = fake.received
        #expect(received.count == 2)
        #expect(received.first?["path"] == "/v23.0/106540352242922/messages")
        #expect(received.first?["headers"]?["authorization"] == "Bearer EAAG-test-token")
        // The two went concurrently: find each by its type.
        let text = received.first { $0["json"]?["type"] == "text" }?["json"]
        #expect(text?["messaging_product"] == "whatsapp")
        #expect(text?["to"] == "5511987654321")
        #expect(text?["text"]?["body"] == "Olá, Ana! 👋")
        let sent = received.first { $0["json"]?["type"] == "template" }?["json"]?["template"]
        #expect(sent?["name"] == "welcome_offer")
        #expect(sent?["language"]?["code"] == "pt_BR")
        let parameters = sent?["components"]?.arrayValue?.first?["parameters"]?.arrayValue
        #expect(parameters?.map { $0["text"] } == ["Ana", "20%"])
        whatsapp.instance.shutdown()
    }

    @Test func failuresAreClassified() async throws {
        let fake = try fake()
        func rule(_ to: String, _ status: Int64, code: Int64, retryAfter: String? = nil) -> JSONValue {
            var rule = JSONObject([
                "to_contains": .string(to), "status": .integer(status),
                "body": .object(
                    JSONObject([
                        "error": .object(
                            JSONObject([
                                "message": "injected", "type": "OAuthException", "code": .integer(code),
                                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
                            ]))
                    ])),
            ])
            if let retryAfter { rule["headers"] = .object(JSONObject(["Retry-After": .string(retryAfter)])) }
            return .object(rule)
        }
        try fake.inject(
            .array([
                rule("551100000001", 429, code: 130429, retryAfter: "3"), rule("551100000002", 400, code: 131026),
                rule("551100000003", 400, code: 132001), rule("551100000004", 500, code: 131000),
                rule("551100000005", 503, code: 1), rule("551100000006", 400, code: 368),
                rule("551100000007", 400, code: 131056, retryAfter: "5"),
            ]))
        let whatsapp = try plugin(fake)
        let text = JSONObject(["text": "hi"])
        let results = await whatsapp.send((1...8).map { ("+55110000000\($0)", text) } + [("+5511", JSONObject())])
        #expect(
            results.map(\.outcome) == [
                .channelUnavailable, .failed, .failed, .channelUnavailable, .channelUnavailable, .channelUnavailable,
                .retry, .delivered, .failed,
            ], "\(results)")
        #expect(results[0].retryAfterMilliseconds == 3000)
        #expect(results[1].detail?.contains("131026") == true)
        #expect(results[6].retryAfterMilliseconds == 5000)
        whatsapp.instance.shutdown()
    }

    @Test func aRefusedTokenMakesTheChannelUnavailable() async throws {
        let fake = try fake()
        try "EAAG-revoked\n".write(toFile: fake.directory + "/wrong", atomically: true, encoding: .utf8)
        let whatsapp = try plugin(fake, token: "wrong")
        let result = await whatsapp.send(to: "+5511987654321", JSONObject(["text": "hi"]))
        #expect(result.outcome == .channelUnavailable)
        #expect(result.detail?.contains("190") == true)
        #expect(result.detail?.contains("EAAG-revoked") == false)
        #expect(whatsapp.instance.healthProblem() != nil)
        whatsapp.instance.shutdown()

        // A phone number id the token cannot see: every message would fail, so the channel is sick.
        var settings = JSONObject([
            "base_url": .string("http://127.0.0.1:\(fake.port)"), "phone_number_id": "999",
            "access_token": .object(JSONObject(["file": .string(fake.directory + "/token")])),
        ])
        let unknown = try LoadedPlugin("WhatsApp", settings: settings)
        let lost = await unknown.send(to: "+5511987654321", JSONObject(["text": "hi"]))
        #expect(lost.outcome == .channelUnavailable, "\(lost)")
        #expect(lost.detail?.contains("phone_number_id") == true)
        unknown.instance.shutdown()
        settings["api_version"] = "23.0"
        #expect(throws: (any Error).self) { try LoadedPlugin("WhatsApp", settings: settings) }
    }
}
