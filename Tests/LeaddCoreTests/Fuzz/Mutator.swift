import Foundation
import TestSupport

/// Turns corpus inputs into hostile variants: flipped, inserted, deleted and repeated bytes,
/// truncations, splices of two inputs, deep nesting, long runs and invalid UTF-8.
struct Mutator {
    var random: SeededGenerator
    let corpus: [[UInt8]]

    /// The corpus kept next to this file (Tests/LeaddCoreTests/Fuzz/Corpus), plus `extra`.
    static func corpus(suffix: String, extra: [[UInt8]] = []) -> [[UInt8]] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(suffix) }.sorted().compactMap {
            FileManager.default.contents(atPath: directory.appendingPathComponent($0).path).map(Array.init)
        } + extra
    }

    mutating func next() -> [UInt8] {
        var input = corpus.randomElement(using: &random) ?? []
        for _ in 0..<Int.random(in: 1...4, using: &random) { mutate(&input) }
        return input
    }

    private mutating func mutate(_ input: inout [UInt8]) {
        let interesting: [UInt8] =
            Array("{}[]\":,\\-+.0123456789eEtrufalsn \n\t".utf8) + [0, 0x7F, 0x80, 0xBF, 0xC0, 0xED, 0xF4, 0xFF]
        let position = input.isEmpty ? 0 : Int.random(in: 0..<input.count, using: &random)
        switch Int.random(in: 0..<9, using: &random) {
        case 0 where !input.isEmpty:
            input[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
        case 1:
            input.insert(interesting.randomElement(using: &random)!, at: position)
        case 2 where !input.isEmpty:
            input.removeSubrange(position..<min(input.count, position + Int.random(in: 1...16, using: &random)))
        case 3 where !input.isEmpty:
            let end = min(input.count, position + Int.random(in: 1...32, using: &random))
            input.insert(contentsOf: input[position..<end], at: position)
        case 4:
            input = Array(input.prefix(position))
        case 5:
            let other = corpus.randomElement(using: &random) ?? []
            let cut = other.isEmpty ? 0 : Int.random(in: 0..<other.count, using: &random)
            input = Array(input.prefix(position)) + other.suffix(from: cut)
        case 6:
            let depth = Int.random(in: 1...5000, using: &random)
            input =
                Array(repeating: UInt8(ascii: "["), count: depth) + input
                + Array(repeating: UInt8(ascii: "]"), count: depth)
        case 7:
            let byte = interesting.randomElement(using: &random)!
            input.insert(
                contentsOf: [UInt8](repeating: byte, count: Int.random(in: 1...70_000, using: &random)), at: position)
        default:
            // A lone continuation byte or a truncated multi-byte sequence.
            input.insert(
                contentsOf: [[0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3]].randomElement(using: &random)!,
                at: position)
        }
    }
}
