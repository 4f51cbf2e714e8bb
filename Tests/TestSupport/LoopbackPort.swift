// Free TCP ports on loopback, for the peers the tests and the benchmark start.
import Foundation

public struct NoFreePort: Error, CustomStringConvertible {
    public let description: String
}

/// A TCP port on 127.0.0.1 that nothing listens on right now, and with `consecutive`, the ports
/// after it too (Kannel takes four). Several ports are looked for below the kernel's range for
/// outgoing connections (32768 and up on Linux), where the connections of whatever runs meanwhile
/// take theirs. A port found free may still be taken before the peer binds it: callers that can,
/// start the peer again on another.
public func freePort(consecutive: Int = 1) throws -> Int {
    guard consecutive > 1 else { return try bindLoopback(port: 0) }
    for _ in 0..<200 {
        let first = Int.random(in: 20_000...(32_000 - consecutive))
        if (0..<consecutive).allSatisfy({ (try? bindLoopback(port: first + $0)) != nil }) { return first }
    }
    throw NoFreePort(description: "no \(consecutive) consecutive free ports between 20000 and 32000")
}

/// Binds a socket to 127.0.0.1:`port` (0: any) and closes it again; the port it got.
private func bindLoopback(port: Int) throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw NoFreePort(description: "port \(port) is taken: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}
