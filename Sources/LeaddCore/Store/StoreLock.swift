// One process owns a store at a time. An exclusive flock on `leadd.lock` in the state directory
// is taken before the database is opened and held until the process ends (the kernel lets go
// of it on any exit, kill -9 included), so a second leadd on the same directory (a hand-started
// one beside the service, a unit started twice, a restart script that did not wait) refuses to
// start instead of sending the first one's messages in flight a second time. The file holds the
// owner's pid, for the refusal to name.
import Foundation

public final class StoreLock: Sendable {
    public let path: String
    private let descriptor: Int32

    public struct Held: Error, CustomStringConvertible, Sendable {
        public var path: String
        /// The pid the owner wrote, when it could be read.
        public var pid: Int32?

        public var description: String {
            let who = pid.map { "process \($0)" } ?? "another process"
            return "\(path) is locked by \(who): another leadd uses this state directory; stop it first"
        }
    }

    /// Takes the lock of `directory`, or throws `Held` naming its owner (or the system's error).
    public init(directory: String) throws {
        path = directory + "/leadd.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            var bytes = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &bytes, bytes.count, 0)
            close(fd)
            guard code == EWOULDBLOCK else { throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO) }
            let text = n > 0 ? String(decoding: bytes[..<n], as: UTF8.self) : ""
            throw Held(path: path, pid: Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        descriptor = fd
    }

    deinit { close(descriptor) }
}
