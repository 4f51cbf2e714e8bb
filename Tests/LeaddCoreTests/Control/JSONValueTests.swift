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

@Suite struct JSONObjectTests {
    @Test func keepsOrderReplacesAndRemoves() {
        var o = JSONObject()
        o["b"] = 1
        o["a"] = 2
        o["b"] = 3
        #expect(o.keys == ["b", "a"])
        #expect(o["b"] == 3)
        o["b"] = nil
        #expect(o.keys == ["a"])
        #expect(o["b"] == nil)
    }

    @Test func largeObjectsStayCorrectPastTheIndexThreshold() throws {
        var o = JSONObject()
        for n in 0..<100 { o["k\(n)"] = .integer(Int64(n)) }
        o["k50"] = nil
        o["k7"] = "seven"
        #expect(o.count == 99)
        #expect(o["k99"] == 99)
        #expect(o["k50"] == nil)
        #expect(o["k7"] == "seven")
        let text = JSONValue.object(o).serialized
        #expect(try JSONValue.parse(text) == .object(o))
    }

    @Test func manyKeysParseInReasonableWork() throws {
        // A hostile object with many keys must not cost quadratic time.
        let text = "{" + (0..<50_000).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
        let value = try JSONValue.parse(text)
        #expect(value.objectValue?.count == 50_000)
        #expect(value["k49999"] == 49_999)
    }

    /// An array read with a caller's element reader parses, and fails, exactly as `parse` does,
    /// whether the reader takes an element or declines it part way through.
    @Test(arguments: [
        "[]", " [ 1 , {\"a\":[2]} , \"x\" ] ", "[1,]", "[1 2]", "[{\"a\":1}", "[1] x", "[\"\\ud800\"]", "[{\"a\" 1}]",
        "[", "[[[[", "[1,{\"a\":tru}]",
    ])
    func arraysReadElementByElementAsParseDoes(text: String) {
        // Takes integers, and steps into objects before declining them.
        let read: (inout JSONReader) -> JSONValue? = { reader in
            if reader.consume(UInt8(ascii: "{")) { _ = reader.readString(); return nil }
            guard let digit = reader.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else {
                return nil
            }
            return reader.readValue(depth: 1)
        }
        let bytes = Array(text.utf8)
        let whole = bytes.withUnsafeBufferPointer { bytes in
            Result { () throws(JSONParseError) in try JSONValue.parse(bytes) }
        }
        let elements = bytes.withUnsafeBufferPointer { bytes in
            Result { () throws(JSONParseError) in try JSONValue.parseArray(bytes, read: read, fallback: { $0 }) }
        }
        switch (whole, elements) {
        case (.success(let value), .success(let elements)): #expect(value.arrayValue == elements)
        case (.failure(let expected), .failure(let error)): #expect(error == expected)
        default: Issue.record("\(text): parse gave \(whole), parseArray gave \(elements)")
        }
    }

    @Test func parseArrayLeavesOtherValuesToParse() throws {
        let bytes = Array(#" {"a":1}"#.utf8)
        let elements = try bytes.withUnsafeBufferPointer { bytes in
            try JSONValue.parseArray(bytes, read: { _ in 1 }, fallback: { _ in 2 })
        }
        #expect(elements == nil)
    }
}
