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

    @Option(
        help: ArgumentHelp(
            "Longest wait for leadd to answer a request: seconds, or 500ms, 30s, 2m; 0 waits for ever.",
            valueName: "duration"))
    var timeout: RequestTimeout = RequestTimeout(limit: .seconds(5))

    /// A connection to leadd, with the request timeout; exits 3 when leadd cannot be reached.
    func connect() throws -> ControlClient {
        do {
            return try ControlClient(socketPath: socket, timeout: timeout.limit)
        } catch {
            throw exit(error)
        }
    }

    /// Prints why leadd could not be reached or did not answer, and gives the exit to throw.
    func exit(_ error: ClientError) -> CtlExit {
        if case .timedOut = error {
            printError(
                "leaddctl: \(error.description) (--timeout); it may be overloaded or stuck: see its log and `leaddctl status`"
            )
        } else {
            printError("leaddctl: \(error.description)")
        }
        return CtlExit(code: CtlExit.unreachable)
    }

    /// Calls `method`; prints JSON when asked, else hands the result to `human`.
    func call(_ method: String, _ params: JSONObject = JSONObject(), human: (JSONValue) -> Void) throws {
        let result: JSONValue
        do {
            let client = try ControlClient(socketPath: socket, timeout: timeout.limit)
            result = try client.call(method, params)
        } catch {
            switch error {
            case .unreachable, .timedOut:
                throw exit(error)
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

/// `--timeout`'s value: a duration, or 0 for none.
struct RequestTimeout: ExpressibleByArgument {
    var limit: Duration?

    init(limit: Duration?) { self.limit = limit }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        var number = text
        var scale = 1.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = String(text.dropLast(suffix.count))
            scale = factor
            break
        }
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        limit = value == 0 ? nil : .milliseconds(Int64((value * scale * 1000).rounded(.up)))
    }

    var defaultValueDescription: String { "5s" }
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
