import Foundation
import NIOCore
import NIOPosix
import Synchronization
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

    /// The user running the tests, its groups and name as `id` reads them from the same database.
    @Test func groupsAndNameComeFromTheUserDatabase() async throws {
        func id(_ arguments: String...) async throws -> String {
            let run = try await runProgram("/usr/bin/id", arguments)
            #expect(run.status == 0, "id \(arguments): \(run.output)")
            return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let name = try await id("-un")
        let primary = try #require(UInt32(try await id("-g", name)))
        let expected = Set(try await id("-G", name).split(separator: " ").compactMap { UInt32($0) })
        let me = PeerCredentials(pid: getpid(), uid: getuid(), gid: primary)
        #expect(AccessPolicy.groups(of: me) == expected)
        #expect(AccessPolicy.describe(me) == "uid \(me.uid) (\(name))")
        var policy = AccessPolicy()
        policy.readGroups = expected
        let resolved = AccessPolicy.resolve(me, under: policy)
        #expect(resolved.name == "uid \(me.uid) (\(name))")
        #expect(resolved.level == (me.uid == 0 || me.uid == geteuid() ? .write : .read))
    }

    /// A uid the database does not know has only the gid the kernel reported, and no name.
    @Test func anUnknownUserHasOnlyItsOwnGroup() {
        let stranger = PeerCredentials(pid: 1, uid: 3_999_999_999, gid: 3_999_999_998)
        #expect(AccessPolicy.groups(of: stranger) == [3_999_999_998])
        #expect(AccessPolicy.describe(stranger) == "uid 3999999999")
        var policy = AccessPolicy()
        policy.readGroups = [3_999_999_998]
        #expect(
            AccessPolicy.resolve(stranger, under: policy, daemonUser: 900)
                == PeerAccess(level: .read, name: "uid 3999999999"))
        policy = AccessPolicy()
        policy.writeGroups = [4]
        #expect(AccessPolicy.resolve(stranger, under: policy, daemonUser: 900).level == .none)
    }

    /// Lookups on many threads at once (the thread pool) each get their own answer.
    @Test func lookupsOnManyThreadsAtOnceAgree() {
        let me = PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid())
        let stranger = PeerCredentials(pid: 1, uid: 3_999_999_999, gid: 7)
        let (mine, theirs) = (AccessPolicy.describe(me), AccessPolicy.groups(of: me))
        let wrong = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 400) { index in
            let agrees =
                index.isMultiple(of: 2)
                ? AccessPolicy.describe(me) == mine && AccessPolicy.groups(of: me) == theirs
                : AccessPolicy.describe(stranger) == "uid 3999999999" && AccessPolicy.groups(of: stranger) == [7]
            if !agrees { wrong.add(1, ordering: .relaxed) }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
    }

    @Test func readMethodsChangeNothing() {
        for method in ["message.send", "dlq.retry", "dlq.purge", "config.reload", "campaign.pause", "lead.import"] {
            #expect(!AccessPolicy.readMethods.contains(method))
        }
        #expect(AccessPolicy.readMethods.contains("status"))
    }
}

/// The user database (NSS: files, LDAP, SSSD) may take seconds to answer: the control socket asks
/// it off its event loop, so one slow lookup does not hold up the other clients.
@Suite struct PeerLookupOffTheLoopTests {
    /// A lookup that blocks the first time it is called until the test releases it.
    final class BlockingLookup: Sendable {
        let entered: AsyncStream<Void>
        private let enteredSink: AsyncStream<Void>.Continuation
        private let gate = DispatchSemaphore(value: 0)
        private let calls = Atomic<Int>(0)

        init() { (entered, enteredSink) = AsyncStream.makeStream() }

        func lookup(_ peer: PeerCredentials, _ policy: AccessPolicy) -> PeerAccess {
            if calls.add(1, ordering: .relaxed).newValue == 1 {
                enteredSink.yield()
                gate.wait()
            }
            return PeerAccess(level: .write, name: "uid \(peer.uid)")
        }

        func release() { gate.signal() }
    }

    static let status = #"{"jsonrpc":"2.0","id":1,"method":"status"}"#

    @Test func aSlowLookupDoesNotHoldUpOtherConnections() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (service, runtime, _) = try makeControlService(
            in: directory, channels: "  {}",
            daemon: """
                  access:
                    write: {users: ["0"]}
                """)
        let blocking = BlockingLookup()
        // One event loop: were the lookup run on it, nothing else on the socket would move.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let path = directory + "/control.sock"
        let server = ControlServer(
            service: service, events: runtime.events, path: path, mode: 0o600, maximumLineLength: 1 << 16,
            logger: quietLogger, eventLoopGroup: loops, peerLookup: blocking.lookup)
        let listener = try await server.bind()
        let serving = Task { await server.serve(listener) }

        let first = try LineSocketClient(path: path)
        for await _ in blocking.entered { break }
        // The first peer's lookup now hangs; a second client is still answered.
        let second = try LineSocketClient(path: path)
        try second.send(Self.status)
        let answer = await onOwnThread { second.readLine(timeout: .seconds(10)) }
        blocking.release()
        #expect(
            answer?.contains(#""result""#) == true,
            "a second client got \(answer ?? "no answer in 10 s") while the first one's user lookup was blocked")
        // Once its lookup returns, the first client is served too.
        try first.send(Self.status)
        let late = await onOwnThread { first.readLine(timeout: .seconds(10)) }
        #expect(late?.contains(#""result""#) == true, "\(late ?? "no answer")")

        first.hangUp()
        second.hangUp()
        serving.cancel()
        await serving.value
        try await loops.shutdownGracefully()
    }
}
