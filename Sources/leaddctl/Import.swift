import ArgumentParser
import Foundation
import LeaddClient
import LeaddProtocol

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import leads into a campaign from CSV or JSON Lines (- for stdin), in batches.",
        discussion: """
            CSV needs a header row; columns id, phone, email, name, send_at and timezone are the lead's fields, \
            a campaign column sends each row to its own campaign, and any other column is a variable for the \
            templates. JSON Lines: one object a line with the same fields and vars. Exit code 1 when any row \
            was rejected.
            """)

    @OptionGroup var options: CommonOptions
    @Argument(help: "CSV or JSON Lines file; - reads stdin.") var file: String
    @Option(help: "Campaign for rows that do not name one.") var campaign: String?
    @Option(help: "csv or jsonl (default: from the file name; stdin: csv).") var format: String?
    @Option(help: "Rows per request.") var batch = 1000
    @Flag(help: "Check every row without storing anything.") var dryRun = false

    func run() throws {
        var source: any LeadSource
        do {
            let kind = format ?? (file.hasSuffix(".jsonl") || file.hasSuffix(".ndjson") ? "jsonl" : "csv")
            switch kind {
            case "csv": source = try CSVLeadSource(path: file)
            case "jsonl", "ndjson": source = try JSONLinesLeadSource(path: file)
            default:
                printError("leaddctl: --format must be csv or jsonl")
                throw CtlExit(code: CtlExit.usage)
            }
        } catch let error as LeadSourceError {
            printError("leaddctl: \(error.description)")
            throw CtlExit(code: CtlExit.usage)
        }
        let client = try options.connect()
        let progress = isatty(2) == 1 && !options.json ? ProgressLine() : nil
        var rows = 0
        var accepted = 0
        var messages = 0
        var rejected: [JSONValue] = []
        var pending: [JSONValue] = []
        var pendingCampaign: String?
        var firstRow = 1

        func flush() throws {
            guard !pending.isEmpty, let campaign = pendingCampaign else { return }
            var params = JSONObject([
                "campaign": .string(campaign), "leads": .array(pending), "first_row": .integer(Int64(firstRow)),
            ])
            if dryRun { params["dry_run"] = true }
            let result: JSONValue
            do {
                result = try client.call("lead.import", params)
            } catch {
                progress?.finish()
                printError(
                    "leaddctl: lead.import refused at rows \(firstRow)-\(firstRow + pending.count - 1): \(error.description)"
                )
                switch error {
                case .unreachable, .timedOut: throw CtlExit(code: CtlExit.unreachable)
                default: break
                }
                throw CtlExit(code: CtlExit.refused)
            }
            accepted += Int(result["accepted"]?.int64Value ?? 0)
            messages += Int(result["messages"]?.int64Value ?? 0)
            for r in result["rejected"]?.arrayValue ?? [] {
                guard case .object(var o) = r else { continue }
                o["campaign"] = .string(campaign)
                rejected.append(.object(o))
            }
            pending.removeAll(keepingCapacity: true)
            progress?.show(rows: rows, accepted: accepted, rejected: rejected.count)
        }

        while true {
            let read: LeadRead?
            do {
                read = try source.next()
            } catch {
                try flush()
                progress?.finish()
                printError("leaddctl: \(error.description)")
                throw CtlExit(code: CtlExit.usage)
            }
            guard let read else { break }
            rows += 1
            let next: LeadRow
            switch read {
            case .lead(let row): next = row
            case .unreadable(let bad):
                rejected.append(
                    .object(JSONObject(["row": .integer(Int64(bad.row)), "field": "", "reason": .string(bad.reason)])))
                continue
            }
            guard let target = next.campaign ?? campaign else {
                rejected.append(
                    .object(
                        JSONObject([
                            "row": .integer(Int64(next.row)), "field": "campaign",
                            "reason": "no campaign: give --campaign or a campaign column",
                        ])))
                continue
            }
            // A batch holds consecutive rows of one campaign, so row numbers stay the file's.
            if target != pendingCampaign || pending.count >= batch || next.row != firstRow + pending.count {
                try flush()
                pendingCampaign = target
                firstRow = next.row
            }
            pending.append(.object(next.lead))
        }
        try flush()
        progress?.finish()
        // Unreadable rows were noted as they were met, the others when their batch came back.
        rejected.sort { ($0["row"]?.int64Value ?? 0) < ($1["row"]?.int64Value ?? 0) }
        if options.json {
            print(
                JSONValue.object(
                    JSONObject([
                        "rows": .integer(Int64(rows)), "accepted": .integer(Int64(accepted)),
                        "messages": .integer(Int64(messages)), "rejected": .array(rejected), "dry_run": .bool(dryRun),
                    ])
                ).serialized)
        } else {
            print(
                "\(rows) rows: \(accepted) accepted (\(messages) messages\(dryRun ? " would be" : "")), \(rejected.count) rejected"
            )
            for r in rejected.prefix(50) {
                let field = text(r["field"])
                print(
                    "  row \(text(r["row"]))\(field.isEmpty || field == "-" ? "" : " \(field)"): \(text(r["reason"]))")
            }
            if rejected.count > 50 { print("  ... and \(rejected.count - 50) more (--json lists all)") }
        }
        if !rejected.isEmpty { throw CtlExit(code: CtlExit.refused) }
    }
}

/// A progress line on a terminal's stderr, redrawn in place.
final class ProgressLine {
    private var last = Date.distantPast

    func show(rows: Int, accepted: Int, rejected: Int) {
        guard Date().timeIntervalSince(last) > 0.1 else { return }
        last = Date()
        let width = 30
        let filled = min(width, rows / 1000 % (width + 1))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(rows) rows, \(accepted) accepted, \(rejected) rejected".utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
}
