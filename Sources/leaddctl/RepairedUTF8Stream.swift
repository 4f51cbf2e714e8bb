// A file read for the CSV parser with every byte sequence that is not UTF-8 replaced by a marker
// (U+FDD0, a noncharacter that never appears in text meant for interchange). The parser would
// otherwise stop at the first such byte and lose every row after it; with the marker in place
// it reads on, and the row that holds one is rejected with its number like any other bad row.
import Foundation

final class RepairedUTF8Stream: InputStream {
    /// What stands for each sequence that is not UTF-8.
    static let marker = Unicode.Scalar(0xFDD0 as UInt32)!

    private let file: UnsafeMutablePointer<FILE>
    private var status: Stream.Status = .notOpen
    /// Repaired bytes not yet handed out.
    private var ready: [UInt8] = []
    private var readyStart = 0
    /// The end of the last chunk read when it stops inside a sequence, kept for the next one.
    private var carried: [UInt8] = []
    private var atEnd = false

    init?(path: String) {
        guard let file = fopen(path, "r") else { return nil }
        self.file = file
        super.init(data: Data())
    }

    deinit { fclose(file) }

    override func open() { status = .open }
    override func close() { status = .closed }
    override var streamStatus: Stream.Status { status }
    override var streamError: (any Error)? { nil }
    override var hasBytesAvailable: Bool { readyStart < ready.count || !atEnd }

    override func read(_ buffer: UnsafeMutablePointer<UInt8>, maxLength: Int) -> Int {
        if readyStart == ready.count { refill() }
        let count = min(maxLength, ready.count - readyStart)
        guard count > 0 else {
            status = .atEnd
            return 0
        }
        ready.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + readyStart, count: count) }
        readyStart += count
        return count
    }

    private func refill() {
        ready.removeAll(keepingCapacity: true)
        readyStart = 0
        while ready.isEmpty && !atEnd {
            var chunk = carried
            carried = []
            var raw = [UInt8](repeating: 0, count: 65_536)
            let n = fread(&raw, 1, raw.count, file)
            if n == 0 { atEnd = true }
            chunk.append(contentsOf: raw[..<n])
            if !atEnd {
                let cut = Self.lastBoundary(chunk)
                carried = Array(chunk[cut...])
                chunk.removeSubrange(cut...)
            }
            ready = Self.repaired(chunk)
        }
    }

    /// Where the last complete sequence ends: a lead byte in the last three whose sequence runs
    /// past the end is left for the next chunk.
    static func lastBoundary(_ bytes: [UInt8]) -> Int {
        var index = bytes.count
        for back in 1...3 where back <= bytes.count {
            let byte = bytes[bytes.count - back]
            if byte & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            if length > back { index = bytes.count - back }
            break
        }
        return index
    }

    /// The bytes with each sequence that is not UTF-8 replaced by the marker.
    static func repaired(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes.makeIterator()
        let marker = Array(String(Character(Self.marker)).utf8)
        while true {
            switch parser.parseScalar(from: &input) {
            case .valid(let encoded): output.append(contentsOf: encoded)
            case .error: output.append(contentsOf: marker)
            case .emptyInput: return output
            }
        }
    }
}
