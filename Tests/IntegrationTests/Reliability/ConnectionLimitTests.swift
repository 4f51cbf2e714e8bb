import Foundation
import LeaddClient
import LeaddProtocol
import Testing

extension Integration {
    /// Clients cannot make leadd hold without bound: past `daemon.max_connections`, a connection
    /// is told why and closed, and the ones already open are served as before.
    @Suite struct ConnectionLimitTests {
        @Test func aConnectionPastTheLimitIsRefusedWithTheReason() throws {
            let daemon = try DaemonProcess(extraDaemon: "  max_connections: 3")
            try daemon.start()
            var open: [ControlClient] = []
            for _ in 0..<3 {
                let client = try daemon.client()
                #expect(try client.call("status")["version"] != nil)
                open.append(client)
            }
            var refusal: ClientError?
            do {
                _ = try daemon.client().call("status")
            } catch let error as ClientError {
                refusal = error
            }
            guard case .refused(_, let message, _)? = refusal else {
                Issue.record("a fourth connection was served: \(String(describing: refusal))")
                return
            }
            #expect(message.contains("too many connections"), "\(message)")
            #expect(try open[0].call("status")["version"] != nil)
            // One closed, a new one is served.
            open.removeLast()
            #expect(
                daemon.eventually(timeout: 10) { (try? daemon.client().call("status")["version"]) != nil })
        }
    }
}
