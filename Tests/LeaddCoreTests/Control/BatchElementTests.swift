import Foundation
import LeaddProtocol
import Testing

@testable import LeaddCore

/// Plain sends in a batch are read from the bytes; everything else takes the general path. Either
/// way a request gets the same answer and stores the same message as when sent alone.
@Suite struct BatchElementTests {
    let directory = temporaryDirectory()
    let runtime: DaemonRuntime
    let service: ControlService

    init() throws {
        (service, runtime, _) = try makeControlService(
            in: directory,
            channels: """
                  sms:
                    plugin: TestChannel
                    settings:
                      file: \(directory)/sent.jsonl
                """)
    }

    static let envelope = #""jsonrpc":"2.0","id":ID,"method":"message.send""#
    static let plain =
        #"{"tenant":"T","channel":"sms","to":"+1555","text":"hi","idempotency_key":"K","send_at":"2030-01-01T00:00:00Z"}"#

    /// Requests (with ID, T and K to fill in), and whether the bytes reader takes them.
    static let requests: [(String, Bool)] = [
        (#"{\#(envelope),"params":\#(plain)}"#, true),
        (
            #"{ "jsonrpc" : "2.0" , "method" : "message.send" , "id" : ID , "params" : { "tenant" : "T" , "channel":"sms","to":"+1","text" : "a\n\"b\" é \u00e9","idempotency_key":"K" } }"#,
            true
        ),
        (
            #"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","subject":null,"text":"a","text":"b","html":"<p>","idempotency_key":"K","priority":"bulk","timezone":"America/Sao_Paulo"}}"#,
            true
        ),
        (
            #"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","te\u0078t":"escaped name","idempotency_key":"K"}}"#,
            false
        ),
        (
            #"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","template":{"name":"welcome"},"idempotency_key":"K"}}"#,
            false
        ),
        (#"{\#(envelope),"extra":true,"params":\#(plain)}"#, false),
        // Refused, with the same error either way.
        (
            #"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","text":"a","colour":"red","idempotency_key":"K"}}"#,
            false
        ),
        (#"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","text":5,"idempotency_key":"K"}}"#, false),
        (#"{\#(envelope),"params":{"tenant":"","channel":"sms","to":"+1","text":"a","idempotency_key":"K"}}"#, true),
        (#"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","idempotency_key":"K"}}"#, true),
        (#"{\#(envelope),"params":{"tenant":"T","channel":"fax","to":"+1","text":"a","idempotency_key":"K"}}"#, true),
        (
            #"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","text":"a","send_at":"soon","idempotency_key":"K"}}"#,
            true
        ),
        (
            #"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","text":"a","timezone":"Mars/Olympus","idempotency_key":"K"}}"#,
            true
        ),
        (
            #"{\#(envelope),"params":{"tenant":"T","channel":"sms","to":"+1","text":"a","priority":"now","idempotency_key":"K"}}"#,
            true
        ),
        (#"{"jsonrpc":"1.0","id":ID,"method":"message.send","params":\#(plain)}"#, false),
        (#"{\#(envelope),"params":[]}"#, false),
        (#"{\#(envelope)}"#, false),
    ]

    static func fill(_ request: String, id: String, tenant: String, key: String) -> String {
        request.replacingOccurrences(of: "ID", with: id).replacingOccurrences(of: "\"T\"", with: "\"\(tenant)\"")
            .replacingOccurrences(of: "\"K\"", with: "\"\(key)\"")
    }

    @Test func theReaderTakesOnlyPlainSends() throws {
        let line =
            "[" + Self.requests.map { Self.fill($0.0, id: "1", tenant: "t", key: "k") }.joined(separator: ",") + "]"
        let elements = try #require(
            try Array(line.utf8).withUnsafeBufferPointer { bytes in
                try JSONValue.parseArray(bytes, read: BatchElement.readSend, fallback: BatchElement.other)
            })
        #expect(elements.count == Self.requests.count)
        for (element, (request, plain)) in zip(elements, Self.requests) {
            switch element {
            case .send(let id, let fields):
                #expect(plain, "read from the bytes: \(request)")
                #expect(id == .integer(1))
                let parsed = try JSONValue.parse(Self.fill(request, id: "1", tenant: "t", key: "k"))
                let params = try #require(parsed["params"]?.objectValue)
                let general = try SendFields(checking: params)
                #expect(fields.text == general.text && fields.tenant == general.tenant && fields.to == general.to)
                #expect(fields.subject == general.subject && fields.sendAt == general.sendAt)
            case .other:
                #expect(!plain, "declined: \(request)")
            }
        }
    }

    @Test func aBatchAnswersAndStoresAsSingleRequestsDo() async throws {
        for (n, (request, _)) in Self.requests.enumerated() {
            let single = Self.fill(request, id: "\(n)", tenant: "single", key: "k\(n)")
            let batched = Self.fill(request, id: "\(n)", tenant: "batch", key: "k\(n)")
            let aloneText = try #require(await service.respond(to: Array(single.utf8)))
            let batchText = try #require(await service.respond(to: Array("[\(batched)]".utf8)))
            let alone = try JSONValue.parse(aloneText)
            let inBatch = try #require(try JSONValue.parse(batchText).arrayValue)
            #expect(inBatch.count == 1)
            #expect(alone["error"] == inBatch[0]["error"], "\(request)")
            #expect(alone["id"] == inBatch[0]["id"])
            guard let first = alone["result"]?["id"]?.stringValue, let second = inBatch[0]["result"]?["id"]?.stringValue
            else {
                #expect(alone["error"] != nil, "\(request)")
                continue
            }
            #expect(first != second)
            let a = try #require(try await runtime.store.message(id: Int64(first)!))
            let b = try #require(try await runtime.store.message(id: Int64(second)!))
            #expect(a.contentJSON == b.contentJSON, "\(request)")
            #expect(a.to == b.to && a.channel == b.channel && a.priority == b.priority && a.timeZone == b.timeZone)
            #expect(a.idempotencyKey == b.idempotencyKey)
            #expect(abs(a.dueAt - b.dueAt) < 60_000)
        }
    }

    @Test func aNotificationInABatchGetsNoAnswerButIsStored() async throws {
        let request = #"{"jsonrpc":"2.0","method":"message.send","params":\#(Self.plain)}"#
        let line = "[" + Self.fill(request, id: "", tenant: "n", key: "quiet") + "]"
        #expect(await service.respond(to: Array(line.utf8)) == nil)
        #expect(runtime.store.stats().total[.scheduled] == 1)
    }

    @Test func aPeerThatMayOnlyReadGetsEachSendOfABatchRefused() async throws {
        let reader = ControlConnection(bus: runtime.events, access: .read)
        let send = Self.fill(#"{\#(Self.envelope),"params":\#(Self.plain)}"#, id: "1", tenant: "r", key: "k1")
        let declined = Self.fill(Self.requests[4].0, id: "2", tenant: "r", key: "k2")
        let line = "[\(send),\(declined),{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"status\"}]"
        let text = try #require(await service.respond(to: Array(line.utf8), connection: reader))
        let answers = try #require(try JSONValue.parse(text).arrayValue)
        #expect(answers.count == 3)
        #expect(answers[0]["error"]?["code"] == .integer(-32003))
        #expect(answers[1]["error"]?["code"] == .integer(-32003))
        #expect(answers[2]["result"]?["version"] != nil)
        #expect((runtime.store.stats().total[.scheduled] ?? 0) == 0)
    }

    /// The content text is written directly; it reads as the JSON object the general writer makes.
    @Test func contentIsWrittenAsTheGeneralWriterWould() {
        let template = JSONObject(["name": "welcome", "data": .object(JSONObject(["n": 1]))])
        let cases: [(String?, String?, String?, JSONObject?)] = [
            ("hi", nil, nil, nil), ("a \"q\"\n\u{1}", "s", "<p>é</p>", nil), (nil, nil, nil, template),
            (nil, "subject", nil, template),
        ]
        for (text, subject, html, template) in cases {
            var object = JSONObject()
            object["text"] = text.map(JSONValue.string)
            object["subject"] = subject.map(JSONValue.string)
            object["html"] = html.map(JSONValue.string)
            object["template"] = template.map(JSONValue.object)
            #expect(
                ControlService.content(text: text, subject: subject, html: html, template: template)
                    == JSONValue.object(object).serialized)
        }
    }
}
