// The control socket: a Unix stream socket speaking JSON-RPC 2.0, one object per line.
//
// Requests on one connection are worked on concurrently (so pipelined sends share a group
// commit) but answered strictly in the order they arrived. A connection holds at most
// `window` requests whose answers are not yet written; past that it stops reading, which pushes
// back on the client (and a client that stops reading its answers stops being read).
//
// Under `daemon.access` each new peer's groups and name come from the user database, which may
// block (NSS over LDAP): that lookup runs on NIO's blocking thread pool, so a slow one delays only
// its own connection, never the event loop the other connections are served on.
import Foundation
import LeaddProtocol
import LeaddSync
import Logging
import NIOCore
import NIOPosix
import Synchronization

public final class ControlServer: Sendable {
    private let service: ControlService
    private let bus: EventBus
    private let path: String
    private let mode: UInt32
    private let group: UInt32?
    private let maximumLineLength: Int
    private let logger: Logger
    private let ownsSocketFile = Atomic<Bool>(true)
    /// Connections open, and how many may be at once.
    private let connections: ConnectionGauge
    private let eventLoopGroup: any EventLoopGroup
    private let peerLookup: PeerLookup
    static let window = 256

    public init(
        service: ControlService, events: EventBus, path: String, mode: UInt32, group: UInt32? = nil,
        maximumLineLength: Int, maximumConnections: Int = 1024, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        peerLookup: @escaping PeerLookup = { AccessPolicy.resolve($0, under: $1) }
    ) {
        self.connections = ConnectionGauge(limit: maximumConnections)
        self.eventLoopGroup = eventLoopGroup
        self.peerLookup = peerLookup
        self.service = service
        self.bus = events
        self.path = path
        self.mode = mode
        self.group = group
        self.maximumLineLength = maximumLineLength
        self.logger = logger
    }

    /// One accepted client: its channel, who it is (SO_PEERCRED) and what it may do.
    public struct Accepted: Sendable {
        let channel: NIOAsyncChannel<ControlFrame, ControlOutput>
        let peer: PeerCredentials?
        let access: AccessLevel
        /// How refusals and logs name the peer.
        let peerName: String
        /// Opened past `daemon.max_connections`: told why and closed.
        var overLimit = false
    }

    /// Binds the socket; `serve` then answers clients until cancelled.
    public typealias Listener = NIOAsyncChannel<Accepted, Never>

    /// Serves on a socket that systemd opened and passed (socket activation); the socket file
    /// belongs to systemd, so leadd neither changes its mode nor removes it.
    public func adopt(socket fd: Int32) async throws -> Listener {
        let (maximumLineLength, service, gauge, lookup) = (
            self.maximumLineLength, self.service, self.connections, self.peerLookup
        )
        let server = try await ServerBootstrap(group: eventLoopGroup)
            .bind(fd) { channel in
                Self.initialize(
                    channel, maximumLineLength: maximumLineLength, service: service, gauge: gauge, lookup: lookup)
            }
        ownsSocketFile.store(false, ordering: .relaxed)
        logger.info("control socket passed by systemd (fd \(fd))")
        return server
    }

    static func initialize(
        _ channel: any Channel, maximumLineLength: Int, service: ControlService, gauge: ConnectionGauge,
        lookup: @escaping PeerLookup
    ) -> EventLoopFuture<Accepted> {
        let over = gauge.open(channel)
        let peer: EventLoopFuture<PeerCredentials?>
        if let provider = channel as? any SocketOptionProvider {
            peer = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)
            ).map { (credentials: PeerCredentials) -> PeerCredentials? in credentials }.recover { _ in nil }
        } else {
            peer = channel.eventLoop.makeSucceededFuture(nil)
        }
        let loop = channel.eventLoop
        return peer.flatMap { peer in
            resolve(peer, over: over, lookup: lookup, service: service, on: loop).map { (peer, $0) }
        }.flatMapThrowing { peer, resolved in
            try accept(
                channel, peer: peer, resolved: resolved, over: over, maximumLineLength: maximumLineLength,
                service: service)
        }
    }

    /// What `peer` may do. Under `daemon.access` the user database is asked on the blocking thread
    /// pool; the answer comes back on `loop`.
    private static func resolve(
        _ peer: PeerCredentials?, over: Bool, lookup: @escaping PeerLookup, service: ControlService,
        on loop: any EventLoop
    ) -> EventLoopFuture<PeerAccess> {
        let policy = service.runtime.config.current.daemon.access
        switch (peer, policy) {
        case (nil, _):
            return loop.makeSucceededFuture(
                PeerAccess(level: policy == nil ? .write : .none, name: "a peer of unknown identity"))
        case (let peer?, nil):
            return loop.makeSucceededFuture(PeerAccess(level: .write, name: "uid \(peer.uid)"))
        case (let peer?, let policy?):
            // A connection over the limit is refused whoever it is: no need to ask.
            if over { return loop.makeSucceededFuture(PeerAccess(level: .none, name: "uid \(peer.uid)")) }
            return NIOThreadPool.singleton.runIfActive(eventLoop: loop) { lookup(peer, policy) }
        }
    }

    private static func accept(
        _ channel: any Channel, peer: PeerCredentials?, resolved: PeerAccess, over: Bool, maximumLineLength: Int,
        service: ControlService
    ) throws -> Accepted {
        let access = resolved.level
        let quick: (@Sendable ([UInt8]) -> String?)? =
            access == .none || over ? nil : { @Sendable line in service.quickResponse(to: line) }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(ByteToMessageHandler(LineFrameDecoder(maximumLength: maximumLineLength)))
        try sync.addHandler(QuickAnswerHandler(respond: quick))
        return Accepted(
            channel: try NIOAsyncChannel<ControlFrame, ControlOutput>(wrappingChannelSynchronously: channel),
            peer: peer, access: access, peerName: resolved.name, overLimit: over)
    }

    public func bind() async throws -> Listener {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        // A socket file someone still answers on belongs to a live leadd: never take it over.
        // One that refuses connections was left by a process that ended, and is replaced.
        if Self.answers(path) { throw SocketInUse(path: path) }
        let (maximumLineLength, service, gauge, lookup) = (
            self.maximumLineLength, self.service, self.connections, self.peerLookup
        )
        let server = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                Self.initialize(
                    channel, maximumLineLength: maximumLineLength, service: service, gauge: gauge, lookup: lookup)
            }
        guard chmod(path, mode_t(mode)) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
        if let group, chown(path, uid_t.max, gid_t(group)) != 0 {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
        logger.info("control socket listening on \(path)")
        return server
    }

    /// A control socket another process is serving.
    public struct SocketInUse: Error, CustomStringConvertible {
        public var path: String
        public var description: String {
            "\(path) is served by another process (another leadd?); stop it or choose another daemon.socket"
        }
    }

    /// True when something accepts connections on the Unix socket at `path`.
    static func answers(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    public func serve(_ server: Listener) async {
        await withDiscardingTaskGroup { group in
            do {
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.handle(connection) }
                    }
                }
            } catch {
                if !Task.isCancelled { logger.error("control socket stopped: \(error)") }
            }
        }
        if ownsSocketFile.load(ordering: .relaxed) { unlink(path) }
    }

    private func handle(_ accepted: Accepted) async {
        let access = accepted.access
        do {
            try await accepted.channel.executeThenClose { inbound, outbound in
                guard !accepted.overLimit else {
                    let limit = connections.limit
                    logger.warning("control connection refused: \(limit) already open (daemon.max_connections)")
                    let refusal = RPCError.invalidRequest(
                        "too many connections: \(limit) are open (daemon.max_connections); try again later")
                    try await outbound.write(
                        .answer(Self.line(RPCResponse.failure(id: .null, error: refusal).serialized)))
                    return
                }
                guard access != .none else {
                    let who = accepted.peerName
                    logger.warning("control connection from \(who) refused by daemon.access")
                    let refusal = RPCError.accessDenied("\(who) may not use this socket (daemon.access)")
                    try await outbound.write(
                        .answer(Self.line(RPCResponse.failure(id: .null, error: refusal).serialized)))
                    return
                }
                let (responses, sink) = AsyncStream<String?>.makeStream()
                let sequencer = ResponseSequencer(sink: sink)
                let events = ControlConnection(
                    bus: bus, access: access, peer: accepted.peer, peerName: accepted.peerName)
                defer { events.close() }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Events go straight to the socket, so a slow reader backs up into the
                    // subscription's bounded buffer (where they are dropped and counted), not here.
                    group.addTask {
                        for await subscription in events.subscriptions {
                            for await event in subscription.events {
                                try await outbound.write(.event(Self.line(Self.notification(event.json))))
                                let dropped = subscription.takeDropped()
                                if dropped > 0 {
                                    let note = LeaddEvent(
                                        type: "dropped", at: event.at,
                                        detail: "\(dropped) events dropped: subscriber too slow")
                                    try await outbound.write(.event(Self.line(Self.notification(note.json))))
                                }
                            }
                        }
                    }
                    let window = AnswerWindow(size: Self.window)
                    group.addTask {
                        defer { window.close() }
                        // Every request gets its `.answer`, even an empty one: the quick path counts them.
                        for await response in responses {
                            try await outbound.write(.answer(response.map(Self.line)))
                            window.leave()
                        }
                    }
                    // A discarding group: finished requests leave it at once, however long the connection.
                    try await withThrowingDiscardingTaskGroup { work in
                        var sequence = 0
                        for try await frame in inbound {
                            await window.enter()
                            let number = sequence
                            sequence += 1
                            work.addTask {
                                let response: String?
                                switch frame {
                                case .line(let buffer):
                                    let bytes = Array(buffer.readableBytesView)
                                    let blank = bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 }
                                    response = blank ? nil : await self.service.respond(to: bytes, connection: events)
                                case .tooLong(let length):
                                    response = self.service.tooLarge(length: length)
                                }
                                sequencer.deliver(number, response)
                            }
                        }
                    }
                    sink.finish()
                    events.close()
                    try await group.waitForAll()
                }
            }
        } catch {
            logger.debug("control connection closed: \(error)")
        }
    }
}

extension ControlServer {
    static func line(_ text: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(text.utf8.count + 1)
        buffer.writeString(text)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    static func notification(_ params: JSONValue) -> String {
        JSONValue.object(JSONObject(["jsonrpc": "2.0", "method": "event", "params": params])).serialized
    }
}

/// One socket connection as the methods see it: where an event subscription attaches.
public final class ControlConnection: Sendable {
    private let bus: EventBus
    private let current = Locked<EventBus.Subscription?>(nil)
    let subscriptions: AsyncStream<EventBus.Subscription>
    private let subscriptionSink: AsyncStream<EventBus.Subscription>.Continuation

    /// What this connection's peer may do, decided when it connected.
    let access: AccessLevel
    let peer: PeerCredentials?
    /// How refusals name the peer, looked up when it connected.
    let peerName: String?

    init(bus: EventBus, access: AccessLevel = .write, peer: PeerCredentials? = nil, peerName: String? = nil) {
        self.bus = bus
        self.access = access
        self.peer = peer
        self.peerName = peerName
        (subscriptions, subscriptionSink) = AsyncStream.makeStream()
    }

    func subscribe(_ filter: EventFilter) throws(RPCError) {
        let subscription = bus.subscribe(filter)
        let first = current.withLock { current -> Bool in
            guard current == nil else { return false }
            current = subscription
            return true
        }
        guard first else {
            bus.unsubscribe(subscription)
            throw RPCError(code: -32600, message: "invalid request: this connection is already subscribed")
        }
        subscriptionSink.yield(subscription)
    }

    func close() {
        subscriptionSink.finish()
        if let subscription = current.withLock({ $0 }) { bus.unsubscribe(subscription) }
    }
}

/// Puts responses back in request order before they are written.
final class ResponseSequencer: Sendable {
    private struct State {
        var next = 0
        var ready: [Int: String?] = [:]
    }

    private let state = Locked(State())
    private let sink: AsyncStream<String?>.Continuation

    init(sink: AsyncStream<String?>.Continuation) { self.sink = sink }

    func deliver(_ number: Int, _ response: String?) {
        state.withLock { state in
            state.ready[number] = .some(response)
            while let response = state.ready.removeValue(forKey: state.next) {
                sink.yield(response)
                state.next += 1
            }
        }
    }
}

/// Counts the control connections open: one past the limit is refused (and still counted until
/// it closes, so a flood of them cannot slip in between).
final class ConnectionGauge: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Counts `channel` until it closes; true when it is over the limit.
    func open(_ channel: any Channel) -> Bool {
        let now = count.add(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { _ in self.count.subtract(1, ordering: .relaxed) }
        return now > limit
    }
}
