// Socket activation (sd_listen_fds(3)): the control socket systemd opened for leadd, if any.
internal import CSystemd

public enum ListenSockets {
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// The passed Unix stream socket, or nil when systemd passed none. Passing something else
    /// (several sockets, or a socket of another kind) is a configuration error.
    public static func controlSocket() throws(Refusal) -> Int32? {
        let count = sd_listen_fds(1)
        guard count > 0 else { return nil }
        guard count == 1 else {
            throw Refusal(description: "systemd passed \(count) sockets; leadd takes exactly one (the control socket)")
        }
        let fd = SD_LISTEN_FDS_START
        guard sd_is_socket_unix(fd, UnixSocketType.stream, 1, nil, 0) > 0 else {
            throw Refusal(description: "the socket systemd passed is not a listening Unix stream socket")
        }
        return fd
    }
}
