// Who may use the control socket, decided from the peer's credentials (SO_PEERCRED), on top of
// the socket file's own mode and group.
//
// Trusts: the kernel's account of the connecting process's uid and gid, and the user database
// (NSS) for the user's name and groups. That database may be slow (LDAP, SSSD), so the control
// socket asks it on a thread pool, never on its event loop (see ControlServer).
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

/// What a connecting peer may do, and how to name it in refusals and logs.
public struct PeerAccess: Sendable, Equatable {
    public var level: AccessLevel
    /// "uid 1000 (alice)".
    public var name: String

    public init(level: AccessLevel, name: String) {
        self.level = level
        self.name = name
    }
}

/// Decides what a connecting peer may do under `daemon.access`, asking the user database: it may
/// block, and runs on a thread pool.
public typealias PeerLookup = @Sendable (PeerCredentials, AccessPolicy) -> PeerAccess

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

    /// The level of `peer` under `policy` and its name, from the user database. May block: never
    /// call it on an event loop.
    public static func resolve(
        _ peer: PeerCredentials, under policy: AccessPolicy, daemonUser: UInt32 = geteuid()
    ) -> PeerAccess {
        PeerAccess(level: level(of: peer, under: policy, daemonUser: daemonUser), name: describe(peer))
    }

    /// Every group the peer's user belongs to (its supplementary groups from the group database),
    /// with the peer's own gid; only that gid for a uid the database does not know. May block.
    public static func groups(of peer: PeerCredentials) -> Set<UInt32> {
        guard let name = UserDatabase.userName(of: peer.uid),
            let groups = UserDatabase.groups(ofUser: name, primaryGroup: peer.gid)
        else { return [peer.gid] }
        return groups
    }

    /// Names a peer for error messages and logs: "uid 1000 (alice)". May block.
    public static func describe(_ peer: PeerCredentials) -> String {
        guard let name = UserDatabase.userName(of: peer.uid) else { return "uid \(peer.uid)" }
        return "uid \(peer.uid) (\(name))"
    }
}
