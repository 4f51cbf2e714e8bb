internal import CLeaddPlugin
import Dispatch
import LeaddSync
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the host gives a plugin instance: where its log lines go and what time it is.
public struct PluginHostServices: Sendable {
    public var log: @Sendable (PluginLogLevel, String) -> Void
    public var nowMilliseconds: @Sendable () -> Int64

    public init(
        log: @escaping @Sendable (PluginLogLevel, String) -> Void, nowMilliseconds: @escaping @Sendable () -> Int64
    ) {
        self.log = log
        self.nowMilliseconds = nowMilliseconds
    }
}

/// A message as the host hands it to `PluginInstance.send`; the instance assigns the tokens.
public struct OutboundMessage: Sendable {
    public var id: String
    public var idempotencyKey: String
    public var tenant: String
    public var to: String
    public var contentJSON: String
    public var dueAtMilliseconds: Int64
    public var attempt: UInt32

    public init(
        id: String, idempotencyKey: String, tenant: String, to: String, contentJSON: String,
        dueAtMilliseconds: Int64, attempt: UInt32
    ) {
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.tenant = tenant
        self.to = to
        self.contentJSON = contentJSON
        self.dueAtMilliseconds = dueAtMilliseconds
        self.attempt = attempt
    }
}

/// One running instance of a plugin, wrapped in async Swift for the host.
///
/// Each `send` call is a batch; the plugin completes messages one by one from any thread and the
/// batch resumes its caller when its last message is completed, so there is one continuation per
/// batch rather than per message.
///
/// The host table given to the plugin, and the `HostContext` it points to, are never freed: a
/// plugin may keep threads that outlive its instance and call the host from them. Once `destroy`
/// has returned such calls are ignored (see `HostContext`).
public final class PluginInstance: Sendable {
    public let table: PluginTable
    private let bridge: CompletionBridge
    private let context: HostContext
    private nonisolated(unsafe) let hostTable: UnsafeMutablePointer<leadd_host>
    private nonisolated(unsafe) let instance: UnsafeMutableRawPointer
    private let destroyed = Atomic<Bool>(false)

    public init(table: PluginTable, settingsJSON: String, services: PluginHostServices) throws(PluginRefusal) {
        let bridge = CompletionBridge(services: services)
        let context = HostContext(bridge)
        // Both live for the rest of the process: the context is retained here and never released.
        let hostTable = UnsafeMutablePointer<leadd_host>.allocate(capacity: 1)
        hostTable.initialize(
            to: leadd_host(
                struct_size: UInt32(MemoryLayout<leadd_host>.size),
                abi_major: PluginABI.major,
                abi_minor: PluginABI.minor,
                host_context: Unmanaged.passRetained(context).toOpaque(),
                log: { context, level, message in
                    guard let message, let bridge = HostContext.bridge(context) else { return }
                    bridge.services.log(PluginLogLevel(rawValue: level) ?? .info, String(cString: message))
                },
                now_ms: { context in
                    guard let bridge = HostContext.bridge(context) else { return 0 }
                    return bridge.services.nowMilliseconds()
                },
                complete: { context, token, result in
                    guard let result, let bridge = HostContext.bridge(context) else { return }
                    bridge.complete(token: token, result: PluginResult(c: result))
                }
            )
        )
        var instance: UnsafeMutableRawPointer?
        var error = [CChar](repeating: 0, count: 1024)
        let status = settingsJSON.withCString { settings in
            table.fields.create(table.fields.plugin_context, settings, hostTable, &instance, &error, 1024)
        }
        guard status == 0, let instance else {
            // The plugin may have kept the host table before it gave up: it stays, and is ignored.
            context.detach()
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw PluginRefusal(
                description: "plugin \(table.name) could not start: \(reason.isEmpty ? "no reason given" : reason)"
            )
        }
        self.table = table
        self.bridge = bridge
        self.context = context
        self.hostTable = hostTable
        self.instance = instance
    }

    /// Sends a batch and returns one result per message, in order. With a `deadline`, messages
    /// the plugin has not answered by then are answered by the host as channel unavailable (the
    /// outcome is unknown: they go again later with the same idempotency key), and what the
    /// plugin reports for them afterwards is ignored: a plugin that never answers cannot hold a
    /// sending slot for ever.
    public func send(_ messages: [OutboundMessage], deadline: Duration? = nil) async -> [PluginResult] {
        if messages.isEmpty { return [] }
        if destroyed.load(ordering: .acquiring) {
            return messages.map { _ in .retry("channel is shutting down") }
        }
        return await withCheckedContinuation { continuation in
            let batch = bridge.open(count: messages.count, continuation: continuation)
            if let deadline {
                let (seconds, attoseconds) = deadline.components
                let nanoseconds = Int(min(seconds, 1 << 32)) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
                let bridge = self.bridge
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                    bridge.abandon(
                        batch: batch,
                        with: .channelUnavailable(
                            "the plugin did not answer within \(deadline); the outcome is unknown"))
                }
            }
            callSendBatch(messages, batch: batch)
        }
    }

    private func callSendBatch(_ messages: [OutboundMessage], batch: UInt64) {
        // C strings live until send_batch returns; plugins copy what they keep.
        var owned: [UnsafeMutablePointer<CChar>] = []
        owned.reserveCapacity(messages.count * 5)
        func dup(_ s: String) -> UnsafePointer<CChar> {
            let p = strdup(s)!
            owned.append(p)
            return UnsafePointer(p)
        }
        let structs = UnsafeMutablePointer<leadd_message>.allocate(capacity: messages.count)
        let pointers = UnsafeMutablePointer<UnsafePointer<leadd_message>?>.allocate(capacity: messages.count)
        for (index, m) in messages.enumerated() {
            (structs + index).initialize(
                to: leadd_message(
                    struct_size: UInt32(MemoryLayout<leadd_message>.size),
                    token: CompletionBridge.token(batch: batch, index: index),
                    id: dup(m.id),
                    idempotency_key: dup(m.idempotencyKey),
                    tenant: dup(m.tenant),
                    to: dup(m.to),
                    content_json: dup(m.contentJSON),
                    due_at_ms: m.dueAtMilliseconds,
                    attempt: m.attempt
                )
            )
            pointers[index] = UnsafePointer(structs + index)
        }
        table.fields.send_batch(instance, pointers, messages.count)
        pointers.deallocate()
        structs.deinitialize(count: messages.count)
        structs.deallocate()
        for p in owned { free(p) }
    }

    /// How long the oldest batch given up at its deadline has gone unanswered since; nil when
    /// the plugin has answered every batch (late answers count: they show it is not stuck).
    public func unansweredFor() -> Duration? {
        bridge.oldestLate().map { .nanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - $0)) }
    }

    /// `nil` when the plugin says it is healthy, else its reason. A plugin that left a batch
    /// unanswered past its deadline is not asked: it is stuck, and may be stuck in there too.
    public func healthProblem() -> String? {
        if let stuck = unansweredFor() {
            return "stuck: a batch given up at its deadline \(stuck.components.seconds)s ago is still unanswered"
        }
        var out = [CChar](repeating: 0, count: 256)
        let status = table.fields.health(instance, &out, 256)
        if status == 0 { return nil }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Stops the instance; pending messages are completed by the plugin before this returns.
    /// What the plugin calls on the host afterwards is ignored.
    public func shutdown() {
        guard destroyed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        table.fields.destroy(instance)
        context.detach()
        // Anything the plugin left pending is answered as a retry so no caller waits forever.
        bridge.abandonAll(reason: "plugin stopped without completing the message")
    }

    deinit {
        shutdown()
        // The host table and its context are left allocated: a plugin thread may still call through them.
    }
}

/// What a plugin instance's `host_context` points to. It is never freed, like the host table, so
/// a call from a plugin thread that outlives the instance finds it whenever it comes. It leads to
/// the instance's completion bridge until the instance is destroyed; after that a call is ignored:
/// `log` drops the line, `complete` drops the result (its message was already answered as a retry
/// when the instance stopped) and `now_ms` answers 0.
final class HostContext: Sendable {
    private let current: Locked<CompletionBridge?>

    init(_ bridge: CompletionBridge) { current = Locked(bridge) }

    /// The bridge of the live instance behind `context`, or nil once it is gone. The caller holds
    /// the bridge for the length of its call, so a detach meanwhile cannot free it under the call.
    static func bridge(_ context: UnsafeMutableRawPointer?) -> CompletionBridge? {
        guard let context else { return nil }
        return Unmanaged<HostContext>.fromOpaque(context).takeUnretainedValue().current.withLock { $0 }
    }

    /// From now on calls through this context are ignored.
    func detach() { current.withLock { $0 = nil } }
}

extension PluginResult {
    init(c result: UnsafePointer<leadd_result>) {
        let r = result.pointee
        self.init(
            outcome: PluginOutcome(rawValue: r.outcome) ?? .retry,
            retryAfterMilliseconds: r.retry_after_ms >= 0 ? r.retry_after_ms : nil,
            providerID: copyCString(r.provider_id),
            detail: PluginOutcome(rawValue: r.outcome) == nil
                ? "plugin reported unknown outcome \(r.outcome)" : copyCString(r.detail)
        )
    }
}

/// Routes completions from any plugin thread back to the waiting batch.
final class CompletionBridge: Sendable {
    let services: PluginHostServices

    private struct Pending {
        var results: [PluginResult?]
        var remaining: Int
        var continuation: CheckedContinuation<[PluginResult], Never>
    }

    private struct State {
        var nextBatch: UInt64 = 1
        var pending: [UInt64: Pending] = [:]
        /// Batches given up at their deadline and not answered since, with when (uptime ns).
        var late: [UInt64: UInt64] = [:]
    }

    private let state = Locked(State())
    private static let indexBits: UInt64 = 24

    init(services: PluginHostServices) { self.services = services }

    static func token(batch: UInt64, index: Int) -> UInt64 { batch << indexBits | UInt64(index) }

    func open(count: Int, continuation: CheckedContinuation<[PluginResult], Never>) -> UInt64 {
        precondition(count < 1 << Self.indexBits, "batch too large")
        return state.withLock { state in
            let batch = state.nextBatch
            state.nextBatch += 1
            state.pending[batch] = Pending(
                results: Array(repeating: nil, count: count), remaining: count, continuation: continuation)
            return batch
        }
    }

    func complete(token: UInt64, result: PluginResult) {
        let batch = token >> Self.indexBits
        let index = Int(token & ((1 << Self.indexBits) - 1))
        // Mutate in place: binding the pending batch to a local would copy its results array.
        let finished: Pending? = state.withLock { state in
            if !state.late.isEmpty { state.late[batch] = nil }
            guard let count = state.pending[batch]?.results.count, index < count,
                state.pending[batch]?.results[index] == nil
            else { return nil }
            state.pending[batch]!.results[index] = result
            state.pending[batch]!.remaining -= 1
            return state.pending[batch]!.remaining == 0 ? state.pending.removeValue(forKey: batch) : nil
        }
        if let finished {
            finished.continuation.resume(returning: finished.results.map { $0! })
        }
    }

    /// Answers the messages of `batch` still waiting with `result`; nothing when it is done.
    func abandon(batch: UInt64, with result: PluginResult) {
        let given = state.withLock { state in
            let pending = state.pending.removeValue(forKey: batch)
            if pending != nil { state.late[batch] = DispatchTime.now().uptimeNanoseconds }
            return pending
        }
        guard let pending = given else { return }
        pending.continuation.resume(returning: pending.results.map { $0 ?? result })
    }

    /// When the oldest batch given up and still unanswered was given up (uptime ns).
    func oldestLate() -> UInt64? { state.withLock { $0.late.values.min() } }

    func abandonAll(reason: String) {
        let all = state.withLock { state in
            let all = state.pending.values
            state.pending = [:]
            return Array(all)
        }
        for pending in all {
            pending.continuation.resume(returning: pending.results.map { $0 ?? .retry(reason) })
        }
    }
}
