import LeaddProtocol
import Testing

@Suite struct JSONValueTests {
    @Test func parsesAndWritesBackInOrder() throws {
        let text = #"{"b":1,"a":[true,false,null,-2.5,"x\n\"y\"é"],"c":{}}"#
        let value = try JSONValue.parse(text)
        #expect(value["b"] == .integer(1))
        #expect(value["a"]?.arrayValue?.count == 5)
        #expect(value.serialized == text)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        #expect(try JSONValue.parse(#""\u00e9\ud83d\ude00\t""#) == .string("é😀\t"))
    }

    @Test(arguments: [
        ("{", "expected a string key"), ("[1,]", "unexpected character"), (#"{"a" 1}"#, "expected ':'"),
        ("01", "unexpected text"), (#""\ud800""#, "surrogate"), ("1e999", "out of range"), ("tru", "end of input"),
        ("\"a\u{01}\"", "control character"),
    ])
    func refusesMalformedInput(text: String, reason: String) {
        #expect {
            _ = try JSONValue.parse(text)
        } throws: { error in
            (error as? JSONParseError)?.reason.contains(reason) == true
        }
    }

    @Test func refusesHostileNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse(deep) }
    }

    @Test func refusesInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xFF, 0xFE, 0x22]
        #expect(throws: JSONParseError.self) {
            _ = try bytes.withUnsafeBufferPointer { bytes throws(JSONParseError) in try JSONValue.parse(bytes) }
        }
    }

    @Test func reportsWhereTheErrorIs() {
        #expect {
            _ = try JSONValue.parse(#"{"a": tru}"#)
        } throws: { error in
            (error as? JSONParseError)?.offset == 6
        }
    }
}
