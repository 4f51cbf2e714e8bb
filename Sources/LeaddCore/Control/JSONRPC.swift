// JSON-RPC 2.0 framing: requests, responses and errors. The error `data` object names the field
// or row at fault so that clients can show it without parsing the message.
import LeaddProtocol

public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONObject?

    public init(code: Int, message: String, data: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "\(message) (\(code))" }

    public static func parse(_ error: JSONParseError) -> RPCError {
        RPCError(
            code: -32700, message: "parse error: \(error.description)",
            data: JSONObject(["offset": .integer(Int64(error.offset + 1))]))
    }

    public static func invalidRequest(_ reason: String) -> RPCError {
        RPCError(code: -32600, message: "invalid request: \(reason)")
    }

    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: -32601, message: "method not found: \(method)", data: JSONObject(["method": .string(method)]))
    }

    /// A parameter is wrong: `field` names it (dotted for nested ones).
    public static func invalidParams(field: String, _ reason: String) -> RPCError {
        RPCError(
            code: -32602, message: "invalid params: \(field): \(reason)",
            data: JSONObject(["field": .string(field), "reason": .string(reason)]))
    }

    public static func requestTooLarge(length: Int, limit: Int) -> RPCError {
        RPCError(
            code: -32600, message: "invalid request: line of \(length) bytes exceeds the limit of \(limit) bytes",
            data: JSONObject(["limit": .integer(Int64(limit)), "length": .integer(Int64(length))]))
    }

    public static func internalError(_ reason: String) -> RPCError {
        RPCError(code: -32603, message: "internal error: \(reason)")
    }

    /// The store cannot take writes (disk full, I/O error): nothing was changed.
    public static func storageUnavailable(_ reason: String) -> RPCError {
        RPCError(code: -32001, message: "storage unavailable: \(reason)")
    }

    /// The peer's credentials do not allow this (daemon.access).
    public static func accessDenied(_ reason: String) -> RPCError {
        RPCError(code: -32003, message: "access denied: \(reason)")
    }

    /// Something named by the request does not exist.
    public static func notFound(_ what: String, field: String) -> RPCError {
        RPCError(code: -32004, message: "not found: \(what)", data: JSONObject(["field": .string(field)]))
    }

    /// The config file was refused on reload; the running config is unchanged.
    public static func configInvalid(_ error: ConfigError) -> RPCError {
        var data = JSONObject(["file": .string(error.file), "key": .string(error.key), "reason": .string(error.reason)])
        if let line = error.line { data["line"] = .integer(Int64(line)) }
        if let column = error.column { data["column"] = .integer(Int64(column)) }
        return RPCError(code: -32010, message: "config refused: \(error.description)", data: data)
    }

    var json: JSONValue {
        var object = JSONObject(["code": .integer(Int64(code)), "message": .string(message)])
        if let data { object["data"] = .object(data) }
        return .object(object)
    }
}

/// One call from a batch or a line.
public struct RPCRequest: Sendable {
    public var id: JSONValue?
    public var method: String
    public var params: JSONObject

    /// Validates the envelope; `id` is what to answer with even when the request is refused.
    static func parse(_ value: JSONValue) -> Result<RPCRequest, RPCFailure> {
        guard case .object(let object) = value else {
            return .failure(RPCFailure(id: .null, error: .invalidRequest("a request must be an object")))
        }
        let id = object["id"]
        if let id {
            switch id {
            case .string, .integer, .number, .null: break
            default: return .failure(RPCFailure(id: .null, error: .invalidRequest("id must be a string or a number")))
            }
        }
        guard object["jsonrpc"] == .string("2.0") else {
            return .failure(RPCFailure(id: id ?? .null, error: .invalidRequest("jsonrpc must be \"2.0\"")))
        }
        guard case .string(let method) = object["method"] else {
            return .failure(RPCFailure(id: id ?? .null, error: .invalidRequest("method must be a string")))
        }
        var params = JSONObject()
        switch object["params"] {
        case nil, .null: break
        case .object(let p): params = p
        default:
            return .failure(RPCFailure(id: id ?? .null, error: .invalidRequest("params must be an object")))
        }
        return .success(RPCRequest(id: id, method: method, params: params))
    }
}

struct RPCFailure: Error {
    var id: JSONValue
    var error: RPCError
}

enum RPCResponse {
    static func success(id: JSONValue, result: JSONValue) -> JSONValue {
        .object(JSONObject(["jsonrpc": "2.0", "id": id, "result": result]))
    }

    static func failure(id: JSONValue, error: RPCError) -> JSONValue {
        .object(JSONObject(["jsonrpc": "2.0", "id": id, "error": error.json]))
    }
}
