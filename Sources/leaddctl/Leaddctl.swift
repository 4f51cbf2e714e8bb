import ArgumentParser
import Foundation
import LeaddClient
import LeaddProtocol

struct Leaddctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leaddctl",
        abstract: "Control a running leadd.",
        discussion: "Exit codes: 0 ok, 1 request refused, 2 usage, 3 leadd unreachable.",
        subcommands: [
            Status.self, Send.self, Get.self, Stats.self, Channels.self, Reload.self, Metrics.self, Tail.self,
            Breakers.self, BreakerReset.self, DeadLetters.self, Tenants.self, Campaigns.self, Import.self,
            Suppressions.self, Senders.self,
        ])
}

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "Control socket of leadd.")
    var socket = ProcessInfo.processInfo.environment["LEADD_SOCKET"] ?? "/run/leadd/control.sock"

    @Flag(help: "Print the result as JSON (one object; fields only ever get added).")
    var json = false

    /// Calls `method`; prints JSON when asked, else hands the result to `human`.
    func call(_ method: String, _ params: JSONObject = JSONObject(), human: (JSONValue) -> Void) throws {
        let result: JSONValue
        do {
            let client = try ControlClient(socketPath: socket)
            result = try client.call(method, params)
        } catch {
            switch error {
            case .unreachable:
                printError("leaddctl: \(error.description)")
                throw CtlExit(code: CtlExit.unreachable)
            case .refused(_, let message, let data):
                printError("leaddctl: \(method) refused: \(message)")
                if json, let data { print(JSONValue.object(JSONObject(["error": data])).serialized) }
                throw CtlExit(code: CtlExit.refused)
            case .badResponse:
                printError("leaddctl: \(error.description)")
                throw CtlExit(code: CtlExit.refused)
            }
        }
        if json {
            print(result.serialized)
        } else {
            human(result)
        }
    }
}

struct CtlExit: Error {
    static let refused: Int32 = 1
    static let usage: Int32 = 2
    static let unreachable: Int32 = 3
    var code: Int32
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A plain text table with a header row, columns padded to their widest cell.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count {
            widths[index] = max(widths[index], cell.count)
        }
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}

/// A JSON scalar as table text.
func text(_ value: JSONValue?) -> String {
    switch value {
    case nil, .null?: return "-"
    case .string(let s)?: return s
    case .integer(let i)?: return String(i)
    case .number(let d)?: return String(d)
    case .bool(let b)?: return b ? "yes" : "no"
    case let other?: return other.serialized
    }
}
