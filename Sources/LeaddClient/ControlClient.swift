// A small blocking client for leadd's control socket, for leaddctl, the benchmark and tests.
// One request per line out, one response per line back; `pipeline` sends many before reading.
import Foundation
import LeaddProtocol

/// Why a call did not get a result.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// The daemon could not be reached (no socket, refused, closed).
    case unreachable(String)
    /// The daemon answered with a JSON-RPC error.
    case refused(code: Int, message: String, data: JSONValue?)
    /// The daemon's answer could not be understood.
    case badResponse(String)
    /// The daemon took longer than the client's timeout to read a request or answer it.
    case timedOut(Duration)

    static func seconds(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }

    public var description: String {
        switch self {
        case .unreachable(let reason): "cannot reach leadd: \(reason)"
        case .refused(_, let message, _): message
        case .badResponse(let reason): "unexpected answer from leadd: \(reason)"
        case .timedOut(let limit): "leadd did not answer within \(Self.seconds(limit))"
        }
    }
}

public final class ControlClient {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID: Int64 = 1
    public let socketPath: String
    /// Longest wait for the daemon to take a request or send an answer; nil waits for ever.
    public var timeout: Duration? {
        didSet { Self.setTimeout(fd, timeout) }
    }

    public init(socketPath: String, timeout: Duration? = nil) throws(ClientError) {
        self.socketPath = socketPath
        self.timeout = timeout
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .unreachable("socket(): \(String(cString: strerror(errno)))") }
        Self.setTimeout(fd, timeout)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw .unreachable("socket path too long: \(socketPath)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            close(fd)
            if let timeout, code == EAGAIN || code == EINPROGRESS { throw .timedOut(timeout) }
            throw .unreachable("\(socketPath): \(String(cString: strerror(code)))")
        }
        self.fd = fd
    }

    /// Sets the socket's send and receive timeouts (zero: none).
    private static func setTimeout(_ fd: Int32, _ timeout: Duration?) {
        let (seconds, attoseconds) = timeout?.components ?? (0, 0)
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        if timeout != nil && value.tv_sec == 0 && value.tv_usec == 0 { value.tv_usec = 1 }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Calls one method and returns its result.
    public func call(_ method: String, _ params: JSONObject = JSONObject()) throws(ClientError) -> JSONValue {
        let id = nextID
        nextID += 1
        do {
            try writeLine(Self.request(method, params, id: id).serialized)
        } catch {
            // A daemon that refuses the connection writes why and closes it, perhaps before the
            // request arrived: its answer is still there to read.
            if let answer = try? readResponse() { return try Self.result(of: answer) }
            throw error
        }
        return try Self.result(of: try readResponse())
    }

    public static func request(_ method: String, _ params: JSONObject, id: Int64) -> JSONValue {
        .object(
            JSONObject(["jsonrpc": "2.0", "id": .integer(id), "method": .string(method), "params": .object(params)]))
    }

    /// The result of a response object, or its error thrown.
    public static func result(of response: JSONValue) throws(ClientError) -> JSONValue {
        if let error = response["error"] {
            throw .refused(
                code: Int(error["code"]?.int64Value ?? 0), message: error["message"]?.stringValue ?? "error",
                data: error["data"])
        }
        guard let result = response["result"] else {
            throw .badResponse("no result in \(response.serialized.prefix(200))")
        }
        return result
    }

    public func writeLine(_ line: String) throws(ClientError) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a closed connection is an error to report, not a SIGPIPE that kills the caller.
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if let timeout, errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(timeout) }
                throw .unreachable("write: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads one line; throws `unreachable` when the daemon closed the connection.
    public func readLine() throws(ClientError) -> String {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if let timeout, errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(timeout) }
                throw .unreachable("read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw .unreachable("leadd closed the connection") }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    public func readResponse() throws(ClientError) -> JSONValue {
        let line = try readLine()
        do {
            return try JSONValue.parse(line)
        } catch {
            throw .badResponse(error.description)
        }
    }
}
