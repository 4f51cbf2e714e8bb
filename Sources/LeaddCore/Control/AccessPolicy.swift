// Who may use the control socket, decided from the peer's credentials (SO_PEERCRED), on top of
// the socket file's own mode and group.
//
// Trusts: the kernel's account of the connecting process's uid and gid.
// Rules: root and leadd's own user may do everything; with no `daemon.access` in the config,
// whoever can open the socket may do everything (the file mode decides); otherwise a peer whose
// uid or one of whose groups is listed under `write` may do everything, under `read` may call
// only the methods that change nothing, and anyone else is refused.
import Foundation

/// The peer of a socket connection, as the kernel reports it. Laid out as Linux's `struct ucred`
/// (pid, uid, gid), which getsockopt(SO_PEERCRED) fills in directly.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// What a connection may do.
public enum AccessLevel: Sendable, Equatable {
    case none
    case read
    case write
}

/// `daemon.access` in the config: users and groups (resolved to ids) that may read or write.
public struct AccessPolicy: Sendable, Equatable {
    public var readUsers: Set<UInt32> = []
    public var readGroups: Set<UInt32> = []
    public var writeUsers: Set<UInt32> = []
    public var writeGroups: Set<UInt32> = []

    public init() {}

    /// The methods that change nothing, open to `read` peers.
    public static let readMethods: Set<String> = [
        "status", "metrics", "events.subscribe", "message.get", "queue.stats", "channel.list", "dlq.list",
        "breaker.list", "tenant.get", "tenant.list", "campaign.get", "campaign.list", "lead.get", "suppression.list",
        "sender.get", "sender.list",
    ]

    /// The level of `peer` under `policy` (nil: no `daemon.access`, the socket's mode decides).
    public static func level(
        of peer: PeerCredentials, under policy: AccessPolicy?, daemonUser: UInt32 = geteuid(),
        groups: (PeerCredentials) -> Set<UInt32> = AccessPolicy.groups(of:)
    ) -> AccessLevel {
        if peer.uid == 0 || peer.uid == daemonUser { return .write }
        guard let policy else { return .write }
        let memberOf = groups(peer).union([peer.gid])
        if policy.writeUsers.contains(peer.uid) || !policy.writeGroups.isDisjoint(with: memberOf) { return .write }
        if policy.readUsers.contains(peer.uid) || !policy.readGroups.isDisjoint(with: memberOf) { return .read }
        return .none
    }

    /// Every group the peer's user belongs to (its supplementary groups from the group database).
    public static func groups(of peer: PeerCredentials) -> Set<UInt32> {
        guard let entry = getpwuid(peer.uid), let name = entry.pointee.pw_name else { return [peer.gid] }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, peer.gid, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, peer.gid, &list, &count) >= 0 else { return [peer.gid] }
        }
        return Set(list.prefix(Int(count)).map { UInt32($0) })
    }

    /// Names a peer for error messages and logs: "uid 1000 (alice)".
    public static func describe(_ peer: PeerCredentials) -> String {
        guard let entry = getpwuid(peer.uid), let name = entry.pointee.pw_name else { return "uid \(peer.uid)" }
        return "uid \(peer.uid) (\(String(cString: name)))"
    }
}
