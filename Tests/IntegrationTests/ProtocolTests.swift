import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    @Suite struct ProtocolTests {
        @Test func badInputGetsErrorsAndTheDaemonKeepsServing() throws {
            let daemon = try DaemonProcess(extraDaemon: "  max_request_bytes: 4096")
            try daemon.start()
            let client = try daemon.client()

            try client.writeLine("{this is not json")
            #expect(try client.readResponse()["error"]?["code"] == .integer(-32700))

            try client.writeLine(#"{"jsonrpc":"2.0","id":1,"method":"teleport"}"#)
            let unknown = try client.readResponse()
            #expect(unknown["error"]?["code"] == .integer(-32601))
            #expect(unknown["id"] == .integer(1))

            try client.writeLine(String(repeating: "x", count: 100_000))
            let tooLong = try client.readResponse()
            #expect(tooLong["error"]?["code"] == .integer(-32600))
            #expect(tooLong["error"]?["data"]?["limit"] == .integer(4096))

            try client.writeLine(String(repeating: "[", count: 2000))
            #expect(try client.readResponse()["error"]?["code"] == .integer(-32700))

            // The same connection still works, and so do new ones.
            #expect(try client.call("status")["version"] != nil)
            #expect(try daemon.call("status")["version"] != nil)
        }

        @Test func aClientThatHangsUpMidLineDoesNotHurtOthers() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            do {
                let rude = try daemon.client()
                try rude.writeLine(#"{"jsonrpc":"2.0","id":1,"method":"sta"#)
            }
            #expect(try daemon.call("status")["version"] != nil)
        }

        @Test func pipelinedRequestsAreAnsweredInOrder() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let client = try daemon.client()
            let count = 600
            for n in 0..<count {
                let method = n % 3 == 0 ? "status" : "message.send"
                let params = n % 3 == 0 ? JSONObject() : sendParams(key: "p\(n)", sendAt: "2031-01-01T00:00:00Z")
                try client.writeLine(ControlClient.request(method, params, id: Int64(n)).serialized)
            }
            for n in 0..<count {
                let response = try client.readResponse()
                #expect(response["id"] == .integer(Int64(n)))
                #expect(response["result"] != nil)
            }
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == .integer(400))
        }

        /// `status` and the other in-memory reads are answered on the socket's own thread when
        /// nothing is pending; notifications and blank lines before them still count as pending.
        @Test func quickReadsKeepTheirPlaceBehindNotificationsAndBlankLines() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let client = try daemon.client()
            var expected: [Int64] = []
            for n in 0..<400 {
                switch n % 4 {
                case 0:
                    let params = sendParams(key: "n\(n)", sendAt: "2031-01-01T00:00:00Z")
                    try client.writeLine(
                        JSONValue.object(
                            JSONObject(["jsonrpc": "2.0", "method": "message.send", "params": .object(params)])
                        ).serialized)
                case 1:
                    try client.writeLine("   ")
                case 2:
                    try client.writeLine(ControlClient.request("queue.stats", JSONObject(), id: Int64(n)).serialized)
                    expected.append(Int64(n))
                default:
                    // A quick method with a wrong parameter gets its error on the quick path too.
                    try client.writeLine(
                        ControlClient.request("status", JSONObject(["verbose": true]), id: Int64(n)).serialized)
                    expected.append(Int64(n))
                }
            }
            for (index, id) in expected.enumerated() {
                let response = try client.readResponse()
                #expect(response["id"] == .integer(id))
                if index % 2 == 0 {
                    #expect(response["result"]?["total"] != nil)
                } else {
                    #expect(response["error"]?["code"] == .integer(-32602))
                }
            }
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == .integer(100))
        }

        @Test func manyClientsAtOnce() async throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let socket = daemon.socketPath
            let ids = try await withThrowingTaskGroup(of: [String].self) { group in
                for c in 0..<16 {
                    group.addTask {
                        let client = try ControlClient(socketPath: socket)
                        return try (0..<40).map { n in
                            try client.call(
                                "message.send", sendParams(key: "c\(c)-\(n)", sendAt: "2031-01-01T00:00:00Z"))[
                                    "id"]?
                                .stringValue ?? ""
                        }
                    }
                }
                return try await group.reduce(into: Set<String>()) { $0.formUnion($1) }
            }
            #expect(ids.count == 640)
        }
    }
}
