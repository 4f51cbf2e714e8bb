// The machine's own round-trip noise, measured beside the `status` probe: a plain thread that
// echoes a line over a Unix socket pair. A `status` answer cannot come back quicker than an
// echo on the same machine at the same moment.
import Foundation

final class EchoReference {
    private var descriptors: [Int32] = [-1, -1]

    init() throws {
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &descriptors) == 0 else {
            throw BenchError("socketpair: \(String(cString: strerror(errno)))")
        }
        let server = descriptors[1]
        Thread {
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let n = read(server, &buffer, buffer.count)
                if n <= 0 { break }
                _ = write(server, buffer, n)
            }
            close(server)
        }.start()
    }

    /// One round trip, in milliseconds.
    func roundTrip() -> Double {
        let line: [UInt8] = Array(#"{"jsonrpc":"2.0","id":1,"method":"status"}"#.utf8) + [10]
        var answer = [UInt8](repeating: 0, count: 256)
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = write(descriptors[0], line, line.count)
        var got = 0
        while got < line.count {
            let n = answer.withUnsafeMutableBytes { read(descriptors[0], $0.baseAddress! + got, line.count - got) }
            if n <= 0 { break }
            got += n
        }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    }

    deinit { close(descriptors[0]) }
}
