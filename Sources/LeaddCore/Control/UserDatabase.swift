// The user and group database (passwd and group, through NSS: local files, LDAP, SSSD), asked
// with the reentrant calls only, so that lookups on several threads at once do not share the C
// library's static buffers.
//
// Trusts: the database's answers. A lookup may block for as long as NSS takes (a directory server
// that does not answer), so callers keep it off event loops and off the cooperative pool.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

enum UserDatabase {
    /// Buffers grow up to these sizes before a lookup gives up.
    static let maximumEntryBytes = 1 << 20
    static let maximumGroups = 65_536  // NGROUPS_MAX on Linux

    /// The name of the user with `uid`, or nil when the database has no such user (or cannot say).
    static func userName(of uid: UInt32) -> String? {
        // getpwuid_r's own suggestion for the buffer, grown while it says the entry does not fit.
        let suggested = sysconf(Int32(_SC_GETPW_R_SIZE_MAX))
        var size = suggested > 0 ? suggested : 16_384
        while true {
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let status = getpwuid_r(uid_t(uid), &entry, buffer, size, &found)
            if status == ERANGE && size < maximumEntryBytes {
                size *= 2
                continue
            }
            // The name points into `buffer`: copy it before the buffer goes.
            guard status == 0, found != nil, let name = entry.pw_name else { return nil }
            return String(cString: name)
        }
    }

    /// Every group of the user `name` whose primary group is `gid` (the primary one included), or
    /// nil when the database cannot say.
    static func groups(ofUser name: String, primaryGroup gid: UInt32) -> Set<UInt32>? {
        var capacity: Int32 = 64
        while true {
            var count = capacity
            var list = [gid_t](repeating: 0, count: Int(capacity))
            if getgrouplist(name, gid_t(gid), &list, &count) >= 0 {
                return Set(list.prefix(Int(count)).map { UInt32($0) })
            }
            // Too small: glibc has set `count` to the number of groups there are.
            guard capacity < maximumGroups else { return nil }
            capacity = min(max(count, capacity * 2), Int32(maximumGroups))
        }
    }
}
