import Foundation
import LeaddProtocol
import TestSupport
import Testing

@testable import LeaddCore

/// Hostile input, generated from a kept corpus with a seeded generator: parsers and decoders
/// must answer every input with a value or a clear error, never a crash or a hang. The seed is
/// printed; `LEADD_SOAK=10` tries ten times as many inputs.
@Suite struct FuzzTests {
    static func seed() -> UInt64 {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        print("fuzz seed \(seed)")
        return seed
    }

    @Test func theJSONParserAnswersEveryInput() {
        var mutator = Mutator(random: SeededGenerator(seed: Self.seed()), corpus: Mutator.corpus(suffix: ".json"))
        let count = 20_000 * Soak.scale
        var parsed = 0
        for _ in 0..<count {
            let input = mutator.next()
            let result = input.withUnsafeBufferPointer { bytes in
                Result { () throws(JSONParseError) -> JSONValue in try JSONValue.parse(bytes) }
            }
            switch result {
            case .success(let value):
                parsed += 1
                // What parses writes back as JSON that reads back the same (1500.0 may come back as
                // the integer 1500: the same JSON text).
                let text = value.serialized
                let again = try? JSONValue.parse(text)
                #expect(again?.serialized == text, "\(text.prefix(200))")
            case .failure(let error):
                #expect(error.offset >= 0 && error.offset <= input.count, "\(error)")
                #expect(!error.reason.isEmpty)
            }
        }
        print("fuzz: \(count) JSON inputs, \(parsed) parsed, the rest refused with an offset")
    }

    @Test func theConfigDecoderAnswersEveryInput() {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("etc/leadd.yaml")
        let extra = FileManager.default.contents(atPath: example.path).map { [Array($0)] } ?? []
        var mutator = Mutator(
            random: SeededGenerator(seed: Self.seed()), corpus: Mutator.corpus(suffix: ".yaml", extra: extra))
        let count = 1_500 * Soak.scale
        var accepted = 0
        for _ in 0..<count {
            let input = mutator.next()
            let text = String(decoding: input, as: UTF8.self)
            do {
                _ = try ConfigDecoder.decode(text, file: "fuzz.yaml")
                accepted += 1
            } catch {
                #expect(error.description.hasPrefix("fuzz.yaml"), "\(error)")
                #expect(!error.reason.isEmpty)
                if let line = error.line {
                    #expect(
                        line >= 1 && line <= text.split(separator: "\n", omittingEmptySubsequences: false).count + 1)
                }
            }
        }
        print("fuzz: \(count) config inputs, \(accepted) accepted, the rest refused with a place")
    }
}

/// The control protocol end to end in-process: random and mutated requests against a real store.
@Suite struct ControlFuzzTests {
    let directory = temporaryDirectory()
    let service: ControlService

    init() throws {
        service = try makeControlService(in: directory, channels: "  sms:\n    plugin: TestChannel").service
    }

    @Test func everyRequestGetsAWellFormedAnswer() async throws {
        var mutator = Mutator(random: SeededGenerator(seed: FuzzTests.seed()), corpus: Mutator.corpus(suffix: ".json"))
        let count = 3_000 * Soak.scale
        var errors = 0
        for _ in 0..<count {
            let input = mutator.next()
            guard let answer = await service.respond(to: input) else { continue }
            let parsed = try JSONValue.parse(answer)
            for response in parsed.arrayValue ?? [parsed] {
                #expect(response["jsonrpc"] == "2.0")
                let error = response["error"]
                #expect((response["result"] == nil) != (error == nil), "\(answer.prefix(300))")
                if let error {
                    errors += 1
                    #expect(error["code"]?.int64Value != nil)
                    #expect(error["message"]?.stringValue?.isEmpty == false)
                }
            }
        }
        print("fuzz: \(count) control requests, \(errors) answered with an error")
    }
}
