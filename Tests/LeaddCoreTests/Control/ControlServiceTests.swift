import Foundation
import LeaddProtocol
import Logging
import Testing

@testable import LeaddCore

/// The protocol's methods, called in-process through the same line handler the socket uses.
@Suite struct ControlServiceTests {
    let directory = temporaryDirectory()
    let runtime: DaemonRuntime
    let service: ControlService
    let configPath: String

    init() throws {
        (service, runtime, configPath) = try makeControlService(
            in: directory,
            channels: """
                  sms:
                    plugin: TestChannel
                    settings:
                      file: \(directory)/sent.jsonl
                    retry:
                      initial: 1s
                  broken:
                    plugin: NoSuchPlugin
                """)
    }

    func call(_ line: String) async throws -> JSONValue {
        let answer = try #require(await service.respond(to: Array(line.utf8)))
        return try JSONValue.parse(answer)
    }

    func send(_ params: String, id: Int = 1) async throws -> JSONValue {
        try await call(#"{"jsonrpc":"2.0","id":\#(id),"method":"message.send","params":\#(params)}"#)
    }

    @Test func sendThenGet() async throws {
        let sent = try await send(
            #"{"tenant":"acme","channel":"sms","to":"+5511987654321","text":"hi","send_at":"2030-01-01T00:00:00Z"}"#)
        let id = try #require(sent["result"]?["id"]?.stringValue)
        #expect(sent["result"]?["duplicate"] == .bool(false))
        let got = try await call(#"{"jsonrpc":"2.0","id":2,"method":"message.get","params":{"id":"\#(id)"}}"#)
        #expect(got["result"]?["state"] == "scheduled")
        #expect(got["result"]?["due_at"] == "2030-01-01T00:00:00.000Z")
        #expect(got["result"]?["content"]?["text"] == "hi")
        #expect(got["id"] == .integer(2))
    }

    @Test func invalidParamsNameTheField() async throws {
        let cases: [(String, String)] = [
            (#"{"channel":"sms","to":"+1","text":"x"}"#, "tenant"),
            (#"{"tenant":"a","channel":"fax","to":"+1","text":"x"}"#, "channel"),
            (#"{"tenant":"a","channel":"sms","to":"+1"}"#, "text"),
            (#"{"tenant":"a","channel":"sms","to":"+1","text":"x","priority":"asap"}"#, "priority"),
            (#"{"tenant":"a","channel":"sms","to":"+1","text":"x","send_at":"tomorrow"}"#, "send_at"),
            (#"{"tenant":"a","channel":"sms","to":"+1","text":5}"#, "text"),
            (#"{"tenant":"a","channel":"sms","to":"+1","text":"x","colour":"red"}"#, "colour"),
        ]
        for (params, field) in cases {
            let answer = try await send(params)
            #expect(answer["error"]?["code"] == .integer(-32602), "\(params)")
            #expect(answer["error"]?["data"]?["field"] == .string(field), "\(params)")
        }
        #expect(runtime.store.stats().total[.scheduled, default: 0] == 0)
    }

    /// A rate or duration too large for the buckets' arithmetic is refused where it is given,
    /// instead of being stored and crashing leadd when that tenant is next scheduled.
    @Test func ratesBeyondTheBoundsAreRefusedAndNothingIsStored() async throws {
        for rate in ["9000000000000000000/s", "1000000001/s", "5/400d", "5/0ms", "5/99999999999999s"] {
            let answer = try await call(
                #"{"jsonrpc":"2.0","id":1,"method":"tenant.put","params":{"id":"big","rate":"\#(rate)"}}"#)
            #expect(answer["error"]?["code"] == .integer(-32602), "\(rate)")
            #expect(answer["error"]?["data"]?["field"] == "rate", "\(rate)")
        }
        let got = try await call(#"{"jsonrpc":"2.0","id":2,"method":"tenant.get","params":{"id":"big"}}"#)
        #expect(got["error"] != nil)
        #expect(Rate.parse("1000000000/1ms") != nil)
    }

    @Test func envelopeErrors() async throws {
        #expect(try await call("{nope")["error"]?["code"] == .integer(-32700))
        #expect(try await call(#"{"jsonrpc":"1.0","id":1,"method":"status"}"#)["error"]?["code"] == .integer(-32600))
        #expect(try await call(#"{"jsonrpc":"2.0","id":1,"method":"fly"}"#)["error"]?["code"] == .integer(-32601))
        #expect(
            try await call(#"{"jsonrpc":"2.0","id":1,"method":"status","params":[1]}"#)["error"]?["code"]
                == .integer(-32600))
        #expect(try await call("[]")["error"]?["code"] == .integer(-32600))
        let missing = try await call(#"{"jsonrpc":"2.0","id":9,"method":"message.get","params":{"id":"999"}}"#)
        #expect(missing["error"]?["code"] == .integer(-32004))
        #expect(missing["id"] == .integer(9))
    }

    @Test func notificationsGetNoAnswer() async throws {
        #expect(await service.respond(to: Array(#"{"jsonrpc":"2.0","method":"status"}"#.utf8)) == nil)
    }

    @Test func batchesAnswerEachRequestAndShareOneStoreWrite() async throws {
        let line =
            "["
            + (0..<3).map {
                #"{"jsonrpc":"2.0","id":\#($0),"method":"message.send","params":{"tenant":"a","channel":"sms","to":"+1","text":"x","idempotency_key":"k\#($0 % 2)","send_at":"2030-01-01T00:00:00Z"}}"#
            }.joined(separator: ",")
            + #",{"jsonrpc":"2.0","id":"s","method":"status"},{"jsonrpc":"2.0","id":7,"method":"message.send","params":{}}]"#
        let answers = try #require(try await call(line).arrayValue)
        #expect(answers.count == 5)
        #expect(answers[0]["result"]?["duplicate"] == .bool(false))
        #expect(answers[2]["result"]?["duplicate"] == .bool(true))
        #expect(answers[2]["result"]?["id"] == answers[0]["result"]?["id"])
        #expect(answers.contains { $0["id"] == "s" && $0["result"] != nil })
        #expect(answers.contains { $0["id"] == .integer(7) && $0["error"] != nil })
        #expect(runtime.store.stats().total[.scheduled] == 2)
    }

    @Test func channelListShowsRunningAndFailedChannels() async throws {
        let list = try #require(
            try await call(#"{"jsonrpc":"2.0","id":1,"method":"channel.list"}"#)["result"]?.arrayValue)
        #expect(list.count == 2)
        #expect(list[0]["state"] == "running")
        #expect(list[0]["abi"] == "1.0")
        #expect(list[1]["state"] == "failed")
        #expect(list[1]["error"]?.stringValue?.contains("libNoSuchPlugin.so does not exist") == true)
    }

    @Test func dueMessagesAreDispatchedAndRecorded() async throws {
        let dispatch = Task { await runtime.runDispatchers() }
        defer { dispatch.cancel() }
        let sent = try await send(#"{"tenant":"acme","channel":"sms","to":"+5511987654321","text":"now"}"#)
        let id = try #require(sent["result"]?["id"]?.stringValue)
        var state: JSONValue?
        for _ in 0..<200 {
            state = try await call(#"{"jsonrpc":"2.0","id":1,"method":"message.get","params":{"id":"\#(id)"}}"#)[
                "result"]?["state"]
            if state == "sent" { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(state == "sent")
        let recorded = try String(contentsOfFile: directory + "/sent.jsonl", encoding: .utf8)
        // The default key: the database's own prefix, then the message's id.
        #expect(recorded.range(of: #""key":"leadd-[0-9a-f]{8}-\#(id)""#, options: .regularExpression) != nil)
    }

    @Test func aBadReloadKeepsTheRunningConfig() async throws {
        let good = try String(contentsOfFile: configPath, encoding: .utf8)
        try (good + "\nbogus: 1\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        let refused = try await call(#"{"jsonrpc":"2.0","id":1,"method":"config.reload"}"#)
        #expect(refused["error"]?["code"] == .integer(-32010))
        #expect(refused["error"]?["data"]?["key"] == "bogus")
        #expect(refused["error"]?["data"]?["line"] != nil)
        #expect(runtime.config.current.channel(named: "sms")?.retry.initial == .seconds(1))

        try good.replacingOccurrences(of: "initial: 1s", with: "initial: 7s").write(
            toFile: configPath, atomically: true, encoding: .utf8)
        let applied = try await call(#"{"jsonrpc":"2.0","id":2,"method":"config.reload"}"#)
        #expect(applied["result"]?["reloaded"] == .bool(true))
        #expect(runtime.config.current.channel(named: "sms")?.retry.initial == .seconds(7))
    }

    /// A batch's send answers are written directly; they read exactly as the generic ones would.
    @Test func sendAnswersAreWrittenAsTheGenericSerializerWould() {
        let ids: [JSONValue] = [.integer(7), .integer(-1), .string("a \"quoted\" id\n"), .string("é")]
        for id in ids {
            for result in [EnqueueResult(id: 42, duplicate: false), EnqueueResult(id: 9_000_000_001, duplicate: true)] {
                #expect(
                    ControlService.sendAnswer(id: id, result)
                        == RPCResponse.success(id: id, result: ControlService.sendResult(result)).serialized)
            }
        }
    }
}
