// Typed access to a request's params. Every refusal names the parameter, and parameters the
// method does not know are refused too (a misspelt optional field must not be silently ignored).
import LeaddProtocol

struct Params {
    let object: JSONObject
    let prefix: String

    init(_ object: JSONObject, prefix: String = "", allowed: Set<String>) throws(RPCError) {
        self.object = object
        self.prefix = prefix
        for (key, _) in object where !allowed.contains(key) {
            throw .invalidParams(
                field: prefix + key, "unknown parameter (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func field(_ key: String) -> String { prefix + key }

    func string(_ key: String, maxLength: Int = 1024) throws(RPCError) -> String? {
        try Self.string(object[key], field: field(key), maxLength: maxLength)
    }

    /// The checks of `string(_:maxLength:)` on a value already looked up.
    static func string(_ value: JSONValue?, field: @autoclosure () -> String, maxLength: Int) throws(RPCError)
        -> String?
    {
        guard let value, value != .null else { return nil }
        guard case .string(let s) = value else {
            throw .invalidParams(field: field(), "must be a string, not \(value.typeName)")
        }
        guard !s.isEmpty else { throw .invalidParams(field: field(), "must not be empty") }
        guard s.utf8.count <= maxLength else {
            throw .invalidParams(field: field(), "longer than \(maxLength) bytes")
        }
        return s
    }

    func requiredString(_ key: String, maxLength: Int = 1024) throws(RPCError) -> String {
        guard let s = try string(key, maxLength: maxLength) else {
            throw .invalidParams(field: field(key), "is required")
        }
        return s
    }

    func object(_ key: String) throws(RPCError) -> JSONObject? {
        try Self.object(object[key], field: field(key))
    }

    static func object(_ value: JSONValue?, field: @autoclosure () -> String) throws(RPCError) -> JSONObject? {
        guard let value, value != .null else { return nil }
        guard case .object(let o) = value else {
            throw .invalidParams(field: field(), "must be an object, not \(value.typeName)")
        }
        return o
    }

    func timestamp(_ key: String) throws(RPCError) -> Int64? {
        try Self.timestamp(object[key], field: field(key))
    }

    static func timestamp(_ value: JSONValue?, field: @autoclosure () -> String) throws(RPCError) -> Int64? {
        guard let s = try string(value, field: field(), maxLength: 64) else { return nil }
        guard let t = Timestamp.parse(s) else {
            throw .invalidParams(field: field(), "'\(s)' is not an RFC 3339 time (like 2026-05-01T14:30:00Z)")
        }
        return t
    }

    func integer(_ key: String, in range: ClosedRange<Int>) throws(RPCError) -> Int? {
        guard let value = object[key], value != .null else { return nil }
        guard case .integer(let i) = value, let n = Int(exactly: i) else {
            throw .invalidParams(field: field(key), "must be an integer, not \(value.typeName)")
        }
        guard range.contains(n) else {
            throw .invalidParams(field: field(key), "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return n
    }

    func bool(_ key: String) throws(RPCError) -> Bool? {
        guard let value = object[key], value != .null else { return nil }
        guard case .bool(let b) = value else {
            throw .invalidParams(field: field(key), "must be true or false, not \(value.typeName)")
        }
        return b
    }

    func array(_ key: String) throws(RPCError) -> [JSONValue]? {
        guard let value = object[key], value != .null else { return nil }
        guard case .array(let a) = value else {
            throw .invalidParams(field: field(key), "must be an array, not \(value.typeName)")
        }
        return a
    }

    func rate(_ key: String) throws(RPCError) -> Rate? {
        guard let s = try string(key, maxLength: 64) else { return nil }
        guard let rate = Rate.parse(s) else {
            throw .invalidParams(
                field: field(key),
                "'\(s)' is not a rate (like 100/s or 1000/min; at most \(Rate.largestCount) a period of 1ms to 366d)")
        }
        return rate
    }

    func duration(_ key: String) throws(RPCError) -> Duration? {
        guard let s = try string(key, maxLength: 64) else { return nil }
        guard let d = DurationText.parse(s), d >= .zero else {
            throw .invalidParams(field: field(key), "'\(s)' is not a duration (like 90s, 2h, 1d)")
        }
        return d
    }

    func id(_ key: String) throws(RPCError) -> Int64 {
        let value = object[key]
        switch value {
        case .string(let s)?:
            guard let id = Int64(s), id > 0 else {
                throw .invalidParams(field: field(key), "'\(s)' is not a message id")
            }
            return id
        case .integer(let i)? where i > 0:
            return i
        case nil:
            throw .invalidParams(field: field(key), "is required")
        default:
            throw .invalidParams(field: field(key), "must be a message id string")
        }
    }
}
