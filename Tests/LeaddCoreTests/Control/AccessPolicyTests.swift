import Testing

@testable import LeaddCore

@Suite struct AccessPolicyTests {
    let alice = PeerCredentials(pid: 10, uid: 1000, gid: 1000)
    func groups(_ extra: Set<UInt32>) -> (PeerCredentials) -> Set<UInt32> { { _ in extra } }

    @Test func rootAndLeaddsOwnUserMayAlwaysWrite() {
        var policy = AccessPolicy()
        policy.readUsers = [5]
        #expect(
            AccessPolicy.level(of: PeerCredentials(pid: 1, uid: 0, gid: 0), under: policy, daemonUser: 900) == .write)
        #expect(
            AccessPolicy.level(of: PeerCredentials(pid: 1, uid: 900, gid: 9), under: policy, daemonUser: 900) == .write)
    }

    @Test func withoutAPolicyTheSocketModeDecides() {
        #expect(AccessPolicy.level(of: alice, under: nil, daemonUser: 900) == .write)
    }

    @Test func usersAndGroupsGrantReadOrWrite() {
        var policy = AccessPolicy()
        policy.readUsers = [1000]
        #expect(AccessPolicy.level(of: alice, under: policy, daemonUser: 900, groups: groups([])) == .read)
        policy.writeGroups = [50]
        #expect(AccessPolicy.level(of: alice, under: policy, daemonUser: 900, groups: groups([50])) == .write)
        policy = AccessPolicy()
        policy.readGroups = [1000]  // the peer's primary group counts
        #expect(AccessPolicy.level(of: alice, under: policy, daemonUser: 900, groups: groups([])) == .read)
        policy = AccessPolicy()
        policy.writeUsers = [7]
        #expect(AccessPolicy.level(of: alice, under: policy, daemonUser: 900, groups: groups([3, 4])) == .none)
    }

    @Test func readMethodsChangeNothing() {
        for method in ["message.send", "dlq.retry", "dlq.purge", "config.reload", "campaign.pause", "lead.import"] {
            #expect(!AccessPolicy.readMethods.contains(method))
        }
        #expect(AccessPolicy.readMethods.contains("status"))
    }
}
