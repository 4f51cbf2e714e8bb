import Foundation
import LeaddProtocol
import Testing

extension Integration {
    /// leaddctl as an operator uses it: it never hangs on a daemon that does not answer, and what
    /// it stores reads back the same after a restart.
    @Suite struct LeaddctlTests {
        let leaddctl = productsDirectory + "/leaddctl"

        /// A socket that takes connections (the kernel's backlog) but never answers.
        @Test func aDaemonThatDoesNotAnswerIsReportedWithinTheTimeout() throws {
            let path = NSTemporaryDirectory() + "leaddctl-silent-\(UUID().uuidString.prefix(8)).sock"
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer {
                close(fd)
                unlink(path)
            }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: Array(path.utf8))
                raw[path.utf8.count] = 0
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            try #require(bound == 0 && listen(fd, 8) == 0)
            let started = Date()
            let result = try run(leaddctl, ["status", "--socket", path, "--timeout", "1"])
            #expect(result.status == 3, "\(result)")
            #expect(result.err.contains("did not answer within 1s"), "\(result.err)")
            #expect(Date().timeIntervalSince(started) < 10)
            let bad = try run(leaddctl, ["status", "--socket", path, "--timeout", "soon"])
            #expect(bad.status == 2, "\(bad)")
        }

        /// The reported case: a rate written per minute came back as no rate at all.
        @Test func aTenantsRateSurvivesARestart() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            let env = ["LEADD_SOCKET": daemon.socketPath]
            let put = try run(leaddctl, ["tenant", "put", "t1", "--rate", "30/min", "--burst", "5"], environment: env)
            #expect(put.status == 0, "\(put)")
            let before = try run(leaddctl, ["tenant", "get", "t1"], environment: env)
            #expect(before.out.contains("rate       30/min  (in effect: 30/min)"), "\(before.out)")
            daemon.kill9()
            try daemon.start()
            let after = try run(leaddctl, ["tenant", "get", "t1"], environment: env)
            #expect(after.out == before.out, "\(after.out)")
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit() == 0)
            try daemon.start()
            let again = try run(leaddctl, ["tenant", "get", "t1"], environment: env)
            #expect(again.out == before.out, "\(again.out)")
        }
    }
}
