import Foundation
import LeaddProtocol
import Testing

/// Broken lead files through `leaddctl import`: each gets a clear error that says where, the
/// rows around it are judged on their own, and leadd keeps serving.
extension Integration {
    @Suite(.serialized) struct HostileImportTests {
        let leaddctl = productsDirectory + "/leaddctl"

        func importFile(_ bytes: [UInt8], format: String, daemon: DaemonProcess) throws -> (
            status: Int32, out: String, err: String
        ) {
            let path = daemon.directory + "/leads.\(format)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return try run(
                leaddctl, ["import", path, "--format", format, "--campaign", "c", "--json"],
                environment: ["LEADD_SOCKET": daemon.socketPath])
        }

        /// Campaign `c` of tenant acme: one SMS step.
        func createCampaign(_ daemon: DaemonProcess) throws {
            _ = try daemon.call(
                "campaign.create",
                try JSONValue.parse(
                    #"{"tenant":"acme","id":"c","name":"C","steps":[{"channel":"sms","template":{"text":"Oi {{name}}"}}]}"#
                ).objectValue ?? JSONObject())
        }

        @Test func brokenFilesGetErrorsThatSayWhere() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            try createCampaign(daemon)
            let good = Array(#"{"phone":"+5511970000001","name":"Ana"}"#.utf8) + [10]
            let cases: [(String, String, [UInt8])] = [
                (
                    "invalid UTF-8", "jsonl",
                    good + Array(#"{"phone":"+5511970000002","name":""#.utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)
                ),
                ("deep nesting", "jsonl", good + Array(repeating: UInt8(ascii: "["), count: 100_000) + [10]),
                (
                    "a huge line", "jsonl",
                    good + Array(#"{"phone":"+5511970000003","name":""#.utf8) + [UInt8](repeating: 97, count: 3_000_000)
                        + Array("\"}\n".utf8)
                ),
                ("not JSON", "jsonl", good + Array("phone,name\n".utf8)),
                ("NUL bytes", "csv", Array("phone,name\n+5511970000004,Ana\n+55119700\0\0,Bia\n".utf8)),
                ("an open quote", "csv", Array("phone,name\n+5511970000005,\"Ana\n".utf8)),
                ("a header only", "csv", Array("phone,name\n".utf8)),
                ("no header", "csv", []),
            ]
            for (name, format, bytes) in cases {
                let result = try importFile(bytes, format: format, daemon: daemon)
                // Refused rows make exit 1; a file that cannot be read at all, exit 2 (usage) or 1.
                #expect(result.status == 0 || result.status == 1 || result.status == 2, "\(name): \(result)")
                #expect(!(result.out + result.err).isEmpty, "\(name): no word at all")
                if result.status != 0 {
                    let said = result.out + result.err
                    #expect(
                        said.contains("row") || said.contains("line") || said.contains("header")
                            || said.contains("empty"), "\(name): \(said.prefix(400))")
                }
                #expect((try? daemon.call("status")) != nil, "leadd stopped answering after \(name)")
            }
        }

        /// A row that cannot be read (more cells than the header, bytes that are not UTF-8, a
        /// line that is not JSON) is rejected with its row number like any other bad row; the
        /// rows after it are still read and imported, and the summary lists it.
        @Test(arguments: ["csv", "jsonl"])
        func anUnreadableRowIsRejectedAndTheImportGoesOn(format: String) throws {
            let daemon = try DaemonProcess(name: "unreadableRow" + format)
            try daemon.start()
            try createCampaign(daemon)
            let bytes: [UInt8]
            if format == "csv" {
                bytes =
                    Array("phone,name\n+5511970000001,Ana\n+5511970000002,Bia,extra,cells\n+5511970000003,".utf8)
                    + [0xC3, 0x28] + Array("\n+5511970000004,Duda\n+5511970000005,Eva\n".utf8)
            } else {
                bytes =
                    Array(#"{"phone":"+5511970000001","name":"Ana"}"#.utf8) + [10]
                    + Array(#"{"phone":"+5511970000002","name": nope}"#.utf8) + [10]
                    + Array(#"{"phone":"+5511970000003","name":""#.utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)
                    + Array(#"{"phone":"+5511970000004","name":"Duda"}"#.utf8) + [10]
                    + Array(#"{"phone":"+5511970000005","name":"Eva"}"#.utf8) + [10]
            }
            let result = try importFile(bytes, format: format, daemon: daemon)
            #expect(result.status == 1, "\(result)")
            let summary = try JSONValue.parse(result.out.split(separator: "\n").last.map(String.init) ?? "")
            #expect(summary["rows"] == 5)
            #expect(summary["accepted"] == 3)
            let rejected = summary["rejected"]?.arrayValue ?? []
            #expect(rejected.compactMap { $0["row"]?.int64Value } == [2, 3], "\(rejected)")
            let reasons = rejected.compactMap { $0["reason"]?.stringValue }
            #expect(reasons.count == 2)
            #expect(reasons.last?.contains("UTF-8") == true, "\(reasons)")
            if format == "csv" { #expect(reasons.first?.contains("4 cells") == true, "\(reasons)") }
            let counts = try daemon.call("campaign.get", JSONObject(["id": "c"]))["messages"]?.objectValue
            #expect(counts?.map { $0.value.int64Value ?? 0 }.reduce(0, +) == 3, "\(String(describing: counts))")
        }
    }
}
