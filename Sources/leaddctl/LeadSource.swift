// Lead rows read from a CSV file (with a header row) or JSON Lines, one at a time, so a file of
// any size streams. CSV columns id, phone, email, name, send_at, timezone and campaign are the
// lead's fields; every other column is one of its variables. Empty cells are left out.
import CSV
import Foundation
import LeaddProtocol

struct LeadRow {
    /// 1-based number of the record in the file (the header row not counted).
    var row: Int
    var lead: JSONObject
    /// The campaign this row goes to, when the file names one per row.
    var campaign: String?
}

struct LeadSourceError: Error, CustomStringConvertible {
    var description: String
}

/// A row that could not be read at all (more cells than the header, bytes that are not UTF-8,
/// a line that is not JSON): rejected like any bad lead, and the rows after it are read on.
struct UnreadableRow {
    var row: Int
    var reason: String
}

/// What a source yields: a lead, or a row it could not read.
enum LeadRead {
    case lead(LeadRow)
    case unreadable(UnreadableRow)
}

protocol LeadSource {
    /// The next row; nil at the end. Throws only when the file itself cannot be read further.
    mutating func next() throws(LeadSourceError) -> LeadRead?
}

struct CSVLeadSource: LeadSource {
    static let fields: Set<String> = ["id", "phone", "email", "name", "send_at", "timezone"]
    let reader: CSVReader
    let header: [String]
    var row = 0

    init(path: String) throws(LeadSourceError) {
        guard let stream = RepairedUTF8Stream(path: path == "-" ? "/dev/stdin" : path) else {
            throw LeadSourceError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: true, trimFields: true)
        } catch CSVError.cannotReadHeaderRow {
            throw LeadSourceError(description: "\(path): no header row (the file is empty)")
        } catch {
            throw LeadSourceError(description: "\(path): line 1: not CSV (\(error))")
        }
        header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard !header.isEmpty else { throw LeadSourceError(description: "\(path): no header row") }
        guard header.contains("phone") || header.contains("email") || header.contains("id") else {
            throw LeadSourceError(description: "\(path): the header has no phone, email or id column")
        }
    }

    mutating func next() throws(LeadSourceError) -> LeadRead? {
        guard let cells = reader.next() else {
            // CSV.swift reports the end of the stream as cannotReadFile; a failed read is a stream error.
            if let error = reader.error, !(error is CSVError && "\(error)" == "cannotReadFile") {
                throw LeadSourceError(description: "after record \(row): \(error)")
            }
            return nil
        }
        row += 1
        if cells.count == 1 && cells[0].isEmpty { return try next() }
        guard cells.count <= header.count else {
            return .unreadable(
                UnreadableRow(row: row, reason: "has \(cells.count) cells, the header \(header.count)"))
        }
        if let bad = zip(header, cells).first(where: { $0.1.unicodeScalars.contains(RepairedUTF8Stream.marker) }) {
            return .unreadable(UnreadableRow(row: row, reason: "column \(bad.0) is not valid UTF-8"))
        }
        var lead = JSONObject()
        var vars = JSONObject()
        var campaign: String?
        for (name, cell) in zip(header, cells) where !cell.isEmpty {
            if name == "campaign" {
                campaign = cell
            } else if Self.fields.contains(name) {
                lead[name] = .string(cell)
            } else {
                vars[name] = .string(cell)
            }
        }
        if vars.count > 0 { lead["vars"] = .object(vars) }
        return .lead(LeadRow(row: row, lead: lead, campaign: campaign))
    }
}

/// One JSON object a line: the lead's fields as `lead.import` takes them, plus an optional `campaign`.
struct JSONLinesLeadSource: LeadSource {
    let file: UnsafeMutablePointer<FILE>
    let path: String
    var row = 0

    init(path: String) throws(LeadSourceError) {
        guard let file = fopen(path == "-" ? "/dev/stdin" : path, "r") else {
            throw LeadSourceError(
                description:
                    "cannot open \(path): \(String(decoding: Data(bytes: strerror(errno), count: strlen(strerror(errno))), as: UTF8.self))"
            )
        }
        self.file = file
        self.path = path
    }

    mutating func next() throws(LeadSourceError) -> LeadRead? {
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        while true {
            let length = getline(&buffer, &capacity, file)
            guard length >= 0, let buffer else { return nil }
            row += 1
            let bytes = UnsafeBufferPointer(
                start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: length)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .unreadable(UnreadableRow(row: row, reason: "line \(row) is not valid UTF-8"))
            }
            let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let parsed: JSONValue
            do {
                parsed = try JSONValue.parse(line)
            } catch {
                return .unreadable(UnreadableRow(row: row, reason: "line \(row) is not JSON: \(error.description)"))
            }
            guard case .object(var lead) = parsed else {
                return .unreadable(UnreadableRow(row: row, reason: "line \(row) is not a JSON object"))
            }
            let campaign = lead["campaign"]?.stringValue
            lead["campaign"] = nil
            return .lead(LeadRow(row: row, lead: lead, campaign: campaign))
        }
    }
}
