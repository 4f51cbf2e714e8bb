import Foundation
import LeaddProtocol
import Testing

/// Who may use the control socket: its mode and group, and `daemon.access` checked against each
/// peer's kernel-reported credentials (SO_PEERCRED). Clients run as other users through setpriv,
/// which needs root (as in CI).
extension Integration {
    @Suite(.serialized) struct AccessControlTests {
        let leaddctl = productsDirectory + "/leaddctl"

        /// Runs leaddctl as `uid`/`gid` with no supplementary groups.
        func leaddctl(as uid: Int, _ gid: Int, _ arguments: [String], daemon: DaemonProcess) throws -> (
            status: Int32, out: String, err: String
        ) {
            try run(
                "/usr/bin/setpriv",
                ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", leaddctl] + arguments,
                environment: ["LEADD_SOCKET": daemon.socketPath])
        }

        @Test(.enabled(if: getuid() == 0, "running clients as other users needs root (CI runs as root)"))
        func readersReadWritersWriteOthersAreRefused() throws {
            let daemon = try DaemonProcess(
                extraDaemon: """
                      socket_mode: "0666"
                      socket_group: nogroup
                      access:
                        read: {users: [nobody]}
                        write: {groups: ["0"]}
                    """)
            try daemon.start()
            var info = stat()
            #expect(stat(daemon.socketPath, &info) == 0)
            #expect(info.st_gid == 65534)
            #expect(info.st_mode & 0o777 == 0o666)

            // nobody may read...
            let status = try leaddctl(as: 65534, 65534, ["status"], daemon: daemon)
            #expect(status.status == 0, "\(status)")
            // ...but not change anything.
            let send = try leaddctl(
                as: 65534, 65534,
                ["send", "--tenant", "acme", "--channel", "sms", "--to", "+5511987654321", "--text", "x"],
                daemon: daemon)
            #expect(send.status == 1, "\(send)")
            #expect(send.err.contains("access denied") && send.err.contains("uid 65534 (nobody)"), "\(send.err)")
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"] == 0)
            // A user listed nowhere is refused outright, even for status.
            let stranger = try leaddctl(as: 1, 1, ["status"], daemon: daemon)
            #expect(stranger.status != 0)
            #expect(stranger.err.contains("may not use this socket"), "\(stranger.err)")
            #expect(daemon.log.contains("refused by daemon.access"))
            // Root (and leadd's own user) may do everything.
            #expect(try daemon.call("message.send", sendParams(key: "root"))["id"] != nil)
        }

        @Test func anUnknownUserInTheConfigStopsTheStart() throws {
            let daemon = try DaemonProcess(
                extraDaemon: """
                      access:
                        write: {users: [no-such-user-here]}
                    """)
            #expect(throws: (any Error).self) { try daemon.start() }
            #expect(daemon.log.contains("no such user 'no-such-user-here'"), "\(daemon.log)")
        }
    }
}
