import Foundation
import LeaddProtocol
import PluginAPI
import TestSupport
import Testing

/// The SMS plugin in Kannel mode against real Kannel: bearerbox and smsbox from Debian's packages
/// with fakesmsc as the carrier (Tests/Peers/kannel/start). What reaches the carrier is read back
/// from fakesmsc's log.
@Suite(.serialized) struct KannelChannelTests {
    /// Kannel with fakesmsc as the carrier; with `moURL`, leads' messages written to the peer's
    /// `mo` FIFO reach smsbox's sms-service, which calls that URL.
    static func kannel(moURL: String? = nil, name: String = #function) throws -> PeerProcess {
        try PeerProcess("kannel/start", ["@DIR@", "@PORT@"] + (moURL.map { [$0] } ?? []), ports: 4, name: name) {
            try "kannel-pass\n".write(toFile: $0 + "/password", atomically: true, encoding: .utf8)
        }
    }

    static func settings(_ kannel: PeerProcess, password: String = "password") -> JSONObject {
        JSONObject([
            "provider": "kannel", "base_url": .string("http://127.0.0.1:\(kannel.port)/cgi-bin/sendsms"),
            "username": "leadd", "from": "Loja",
            "password": .object(JSONObject(["file": .string(kannel.directory + "/" + password)])),
        ])
    }

    /// What fakesmsc got: (sender, receiver, text), UCS-2 parts decoded.
    static func carrierMessages(_ kannel: PeerProcess) -> [(from: String, to: String, text: String)] {
        kannel.file("fakesmsc.log").components(separatedBy: "Got message ").dropFirst().compactMap { entry in
            guard let open = entry.firstIndex(of: "<"), let close = entry.lastIndex(of: ">") else { return nil }
            let fields = entry[entry.index(after: open)..<close].split(separator: " ", maxSplits: 3).map(String.init)
            guard fields.count == 4 else { return nil }
            var text = fields[3]
            if fields[2] == "ucs-2" {
                let bytes = percentDecoded(text.replacingOccurrences(of: "+", with: " "))
                text = String(
                    decoding: stride(from: 0, to: bytes.count - 1, by: 2).map {
                        UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])
                    }, as: UTF16.self)
            }
            return (fields[0], fields[1], text)
        }
    }

    @Test func gsmAndUnicodeTextsReachTheCarrier() async throws {
        let kannel = try Self.kannel()
        let sms = try LoadedPlugin("SMS", settings: Self.settings(kannel))
        let results = await sms.send([
            ("+5511987654321", JSONObject(["text": "Hello from leadd: 50% off @ store"])),
            ("+5511987654322", JSONObject(["text": "Olá, Ana! Promoção até amanhã 👋"])),
        ])
        #expect(results.map(\.outcome) == [.delivered, .delivered], "\(results)")
        #expect(kannel.eventually { Self.carrierMessages(kannel).count == 2 })
        let messages = Self.carrierMessages(kannel).sorted { $0.to < $1.to }
        #expect(messages.map(\.to) == ["+5511987654321", "+5511987654322"])
        #expect(messages.map(\.from) == ["Loja", "Loja"])
        #expect(messages.first?.text == "Hello from leadd: 50% off @ store")
        #expect(messages.last?.text == "Olá, Ana! Promoção até amanhã 👋")
        #expect(kannel.file("fakesmsc.log").contains("ucs-2"))
        sms.instance.shutdown()
    }

    @Test func deliveryReportsCallTheDLRURL() async throws {
        let kannel = try Self.kannel()
        let listener = try PeerProcess("http_recorder.py", ["--dir", "@DIR@", "--port", "@PORT@"])
        var settings = Self.settings(kannel)
        settings["dlr_mask"] = 3
        settings["dlr_url"] = .string("http://127.0.0.1:\(listener.port)/kannel/dlr?id={id}&status=%d")
        let sms = try LoadedPlugin("SMS", settings: settings)
        let result = await sms.send(to: "+5511987654321", JSONObject(["text": "hi"]))
        #expect(result.outcome == .delivered)
        // fakesmsc acknowledges every message, so Kannel reports it delivered (status 1).
        #expect(listener.eventually { listener.received.contains { $0["query"]?["status"] == .array(["1"]) } })
        let report = listener.received.first
        #expect(report?["path"] == "/kannel/dlr")
        #expect(report?["query"]?["id"] == .array(["m0"]))
        sms.instance.shutdown()
    }

    @Test func refusedCredentialsAndAnAbsentKannel() async throws {
        let kannel = try Self.kannel()
        try "guess\n".write(toFile: kannel.directory + "/wrong", atomically: true, encoding: .utf8)
        let refused = try LoadedPlugin("SMS", settings: Self.settings(kannel, password: "wrong"))
        let denied = await refused.send(to: "+5511987654321", JSONObject(["text": "hi"]))
        #expect(denied.outcome == .channelUnavailable, "\(denied)")
        #expect(denied.detail?.contains("guess") == false)
        let empty = await refused.send(to: "+5511987654321", JSONObject(["html": "<p>no text</p>"]))
        #expect(empty.outcome == .failed)
        refused.instance.shutdown()

        var settings = Self.settings(kannel)
        settings["base_url"] = .string("http://127.0.0.1:\(try freePort())/cgi-bin/sendsms")
        let absent = try LoadedPlugin("SMS", settings: settings)
        let down = await absent.send(to: "+5511987654321", JSONObject(["text": "hi"]))
        #expect(down.outcome == .channelUnavailable)
        absent.instance.shutdown()
    }
}

func percentDecoded(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.utf8.startIndex
    let utf8 = text.utf8
    while index < utf8.endIndex {
        let byte = utf8[index]
        if byte == UInt8(ascii: "%"), let end = utf8.index(index, offsetBy: 3, limitedBy: utf8.endIndex),
            let value = UInt8(String(decoding: utf8[utf8.index(after: index)..<end], as: UTF8.self), radix: 16)
        {
            bytes.append(value)
            index = end
        } else {
            bytes.append(byte)
            index = utf8.index(after: index)
        }
    }
    return bytes
}
