// A value read back from the store that does not parse. leadd never replaces it with a default
// (a rate a provider or a law imposes must not silently vanish): the read fails, naming the
// table, the row, the column and what it holds, so the operator can put the setting again.

public struct StoredValueError: Error, CustomStringConvertible, Sendable, Equatable {
    public var table: String
    public var row: String
    public var column: String
    public var value: String
    /// What the column should hold, such as "a rate like 30/min".
    public var expected: String

    public var description: String {
        "stored \(table) row '\(row)': \(column) holds '\(value.prefix(200))', which is not \(expected); put it again to replace it"
    }

    /// A stored rate (`30/min`, or `30/1min` as older versions wrote it); nil stays nil.
    static func rate(_ text: String?, table: String, row: String, column: String = "rate") throws(StoredValueError)
        -> Rate?
    {
        guard let text else { return nil }
        guard let rate = Rate.parse(text) else {
            throw StoredValueError(table: table, row: row, column: column, value: text, expected: "a rate like 30/min")
        }
        return rate
    }

    /// Stored opt-out keywords: a JSON object of word lists by language; nil stays nil.
    static func keywords(_ text: String?, table: String, row: String) throws(StoredValueError) -> [String: [String]]? {
        guard let text else { return nil }
        guard let words = SQLiteQueueStore.keywords(text) else {
            throw StoredValueError(
                table: table, row: row, column: "optout_keywords", value: text,
                expected: "a JSON object of word lists by language")
        }
        return words
    }
}
