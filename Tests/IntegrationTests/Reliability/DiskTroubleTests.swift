import Foundation
import LeaddClient
import LeaddProtocol
import Testing

/// The state directory on a small filesystem that fills up, and database files that are not
/// leadd's: leadd refuses what it cannot store, keeps what it acknowledged, and never resets a
/// file it does not understand.
extension Integration {
    @Suite(.serialized) struct DiskTroubleTests {
        /// A tmpfs of `megabytes` mounted at `path` (needs root, as in CI); unmounted by the caller.
        static func mountSmallFilesystem(at path: String, megabytes: Int) throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let mount = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
            guard mount.status == 0 else { throw PeerError(description: "mount failed: \(mount.err)") }
        }

        /// Writes zeros into `path` until the filesystem has no room left.
        static func fill(_ path: String) {
            guard let file = fopen(path, "w") else { return }
            defer { fclose(file) }
            let block = [UInt8](repeating: 0, count: 64 * 1024)
            while fwrite(block, 1, block.count, file) == block.count && fflush(file) == 0 {}
        }

        @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root (CI runs as root)"))
        func aFullDiskRefusesNewWorkAndRecovers() throws {
            let daemon = try DaemonProcess()
            let state = daemon.directory + "/state"
            try Self.mountSmallFilesystem(at: state, megabytes: 16)
            defer { _ = try? run("/bin/umount", ["-l", state]) }
            try daemon.start()
            let later = "2031-01-01T00:00:00Z"
            let extra = JSONObject(["send_at": .string(later)])
            #expect(try daemon.sendBatch(200, keyPrefix: "before-", extra: extra) == 200)

            Self.fill(state + "/filler")
            var refusal: String?
            for attempt in 0..<20 where refusal == nil {
                do {
                    _ = try daemon.call("message.send", sendParams(key: "full-\(attempt)", sendAt: later))
                } catch {
                    refusal = "\(error)"
                }
            }
            let message = try #require(refusal, "a send on a full disk was acknowledged")
            #expect(message.contains("storage unavailable"), "\(message)")
            // Reads still work, and what was acknowledged is all there.
            #expect(try daemon.call("queue.stats")["total"]?["scheduled"]?.int64Value ?? 0 >= 200)

            try FileManager.default.removeItem(atPath: state + "/filler")
            #expect(
                daemon.eventually(timeout: 10) {
                    (try? daemon.call("message.send", sendParams(key: "after", sendAt: later))) != nil
                })
            daemon.kill9()
            try daemon.start()
            let scheduled = try daemon.call("queue.stats")["total"]?["scheduled"]?.int64Value ?? 0
            #expect(scheduled >= 201)
            let first = try daemon.call("message.send", sendParams(key: "before-0", sendAt: later))
            #expect(first["duplicate"] == true)
        }

        @Test func aCorruptDatabaseIsRefusedAndLeftAsItWas() throws {
            let daemon = try DaemonProcess()
            try daemon.start()
            #expect(try daemon.sendBatch(10, keyPrefix: "k") == 10)
            daemon.signal(SIGTERM)
            daemon.waitForExit()
            let file = daemon.directory + "/state/leadd.db"
            // Overwrite the pages past the header, in the database and in its write-ahead log if one
            // was left: every page now holds garbage.
            for path in [file, file + "-wal"] where FileManager.default.fileExists(atPath: path) {
                var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                for index in stride(from: 100, to: bytes.count, by: 7) { bytes[index] = UInt8(index & 0xFF) }
                try bytes.write(to: URL(fileURLWithPath: path))
            }
            let before = try Data(contentsOf: URL(fileURLWithPath: file))

            #expect(throws: (any Error).self) { try daemon.start() }
            #expect(daemon.log.contains(file), "\(daemon.log)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before)
        }

        @Test func aForeignDatabaseIsRefused() throws {
            let daemon = try DaemonProcess()
            let file = daemon.directory + "/state/leadd.db"
            try FileManager.default.createDirectory(
                atPath: daemon.directory + "/state", withIntermediateDirectories: true)
            let made = try run(
                "/usr/bin/sqlite3",
                [file, "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (7);"])
            #expect(made.status == 0, "\(made.err)")
            let before = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(throws: (any Error).self) { try daemon.start() }
            #expect(daemon.log.contains("is not a leadd database"), "\(daemon.log)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before)
        }
    }
}
