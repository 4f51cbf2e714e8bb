import Foundation
// The control protocol's methods. Transport-free: ControlServer feeds it lines, tests call it
// directly. Each line is one request or a JSON-RPC batch; the answer is one line (or nothing,
// for notifications only).
import LeaddProtocol
import Logging
import PluginAPI

public final class ControlService: Sendable {
    public static let version = "0.1.0"

    let runtime: DaemonRuntime
    let logger: Logger

    public init(runtime: DaemonRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    /// Answers one line of input; nil when there is nothing to send back. `connection` is the
    /// socket connection the line came on, for methods that stream (events.subscribe).
    public func respond(to line: [UInt8], connection: ControlConnection? = nil) async -> String? {
        let batch: [BatchElement]?
        let parsed: JSONValue
        do {
            (batch, parsed) = try line.withUnsafeBufferPointer { bytes throws(JSONParseError) in
                if let batch = try JSONValue.parseArray(
                    bytes, read: BatchElement.readSend, fallback: BatchElement.other)
                {
                    return (batch, .null)
                }
                return (nil, try JSONValue.parse(bytes))
            }
        } catch {
            return RPCResponse.failure(id: .null, error: .parse(error)).serialized
        }
        if let batch {
            guard !batch.isEmpty else {
                return RPCResponse.failure(id: .null, error: .invalidRequest("empty batch")).serialized
            }
            let responses = await respondToBatch(batch, connection: connection)
            return responses.isEmpty ? nil : "[" + responses.joined(separator: ",") + "]"
        }
        return await respondToOne(parsed, connection: connection)?.serialized
    }

    /// Methods that read only what is kept in memory: the socket's own thread answers them at once
    /// (see `quickResponse`), so they stay quick while dispatch keeps the other threads busy.
    /// `channel.list` is not one: it asks each plugin for its health, which may take a plugin's lock.
    static let quickMethods = ["status", "queue.stats", "breaker.list"]
    /// Each quick method's name in quotes: a line without one is not parsed on the socket's thread.
    private static let quickNames = quickMethods.map { Array("\"\($0)\"".utf8) }
    public static let quickLineLimit = 512

    /// The answer to a line holding one request for a quick method, or nil for any other line
    /// (answered the usual way). Only short lines naming a quick method are parsed here, so other
    /// requests (a single send, a large batch) are not parsed twice.
    public func quickResponse(to line: [UInt8]) -> String? {
        guard line.count <= Self.quickLineLimit, Self.quickNames.contains(where: { line.firstRange(of: $0) != nil })
        else { return nil }
        guard
            let parsed = try? line.withUnsafeBufferPointer({ bytes throws(JSONParseError) in
                try JSONValue.parse(bytes)
            }),
            case .success(let request) = RPCRequest.parse(parsed), let id = request.id
        else { return nil }
        do {
            guard let result = try quickCall(request) else { return nil }
            return RPCResponse.success(id: id, result: result).serialized
        } catch {
            return RPCResponse.failure(id: id, error: error).serialized
        }
    }

    /// The quick methods, answered without suspending; nil for any other method.
    private func quickCall(_ request: RPCRequest) throws(RPCError) -> JSONValue? {
        switch request.method {
        case "status": try status(request.params)
        case "queue.stats": try queueStats(request.params)
        case "breaker.list": try breakerList(request.params)
        default: nil
        }
    }

    public func tooLarge(length: Int) -> String {
        RPCResponse.failure(
            id: .null, error: .requestTooLarge(length: length, limit: runtime.config.current.daemon.maxRequestBytes)
        ).serialized
    }

    private func respondToOne(_ value: JSONValue, connection: ControlConnection?) async -> JSONValue? {
        switch RPCRequest.parse(value) {
        case .failure(let failure):
            return RPCResponse.failure(id: failure.id, error: failure.error)
        case .success(let request):
            let answer: JSONValue
            do {
                answer = RPCResponse.success(
                    id: request.id ?? .null, result: try await call(request, connection: connection))
            } catch {
                answer = RPCResponse.failure(id: request.id ?? .null, error: error)
            }
            return request.id == nil ? nil : answer
        }
    }

    /// A batch of `message.send` calls is stored in one store request; anything else runs in order.
    /// Answers come back serialized, each send's written out directly (a batch has a thousand).
    private func respondToBatch(_ elements: [BatchElement], connection: ControlConnection?) async -> [String] {
        var responses: [String?] = Array(repeating: nil, count: elements.count)
        var sends: [(index: Int, id: JSONValue?)] = []
        var messages: [NewMessage] = []
        sends.reserveCapacity(elements.count)
        messages.reserveCapacity(elements.count)
        let config = runtime.config.current
        let now = runtime.clock.nowMilliseconds()
        // Whether this peer may send is the same for every request of the batch.
        let refusal: RPCError?
        do {
            try authorize("message.send", connection: connection)
            refusal = nil
        } catch {
            refusal = error
        }
        for (index, element) in elements.enumerated() {
            let id: JSONValue?
            let params: JSONObject?
            var fields = SendFields()
            switch element {
            case .send(let read, let given):
                (id, params, fields) = (read, nil, given)
            case .other(let value):
                guard case .success(let request) = RPCRequest.parse(value), request.method == "message.send" else {
                    responses[index] = await respondToOne(value, connection: connection)?.serialized
                    continue
                }
                (id, params) = (request.id, request.params)
            }
            do throws(RPCError) {
                if let refusal { throw refusal }
                if let params { fields = try SendFields(checking: params) }
                messages.append(try newMessage(from: fields, config: config, now: now))
                sends.append((index, id))
            } catch {
                responses[index] = id.map { RPCResponse.failure(id: $0, error: error).serialized }
            }
        }
        if !sends.isEmpty {
            do {
                let results = try await enqueue(messages)
                for (send, result) in zip(sends, results) {
                    responses[send.index] = send.id.map { Self.sendAnswer(id: $0, result) }
                }
            } catch {
                for send in sends {
                    responses[send.index] = send.id.map { RPCResponse.failure(id: $0, error: error).serialized }
                }
            }
        }
        return responses.compactMap { $0 }
    }

    /// Refuses a method that changes state to a peer that may only read. In-process callers (no
    /// connection) may do everything.
    func authorize(_ method: String, connection: ControlConnection?) throws(RPCError) {
        guard let connection, connection.access != .write, !AccessPolicy.readMethods.contains(method) else { return }
        let who = connection.peerName ?? "this peer"
        throw .accessDenied("\(who) may read but not change state; \(method) needs daemon.access.write")
    }

    func call(_ request: RPCRequest, connection: ControlConnection? = nil) async throws(RPCError) -> JSONValue {
        try authorize(request.method, connection: connection)
        if let result = try quickCall(request) { return result }
        switch request.method {
        case "metrics": return try await metrics(request.params)
        case "events.subscribe": return try subscribe(request.params, connection: connection)
        case "message.send": return try await send(request.params)
        case "message.get": return try await get(request.params)
        case "channel.list": return try channelList(request.params)
        case "config.reload": return try reload(request.params)
        case "dlq.list": return try await deadLetterList(request.params)
        case "dlq.retry": return try await deadLetterRetry(request.params)
        case "dlq.purge": return try await deadLetterPurge(request.params)
        case "breaker.reset": return try breakerReset(request.params)
        case "sender.put": return try await senderPut(request.params)
        case "sender.get": return try senderGet(request.params)
        case "sender.list": return try senderList(request.params)
        case "tenant.put": return try await tenantPut(request.params)
        case "tenant.get": return try await tenantGet(request.params)
        case "tenant.list": return try await tenantList(request.params)
        case "campaign.create": return try await campaignCreate(request.params)
        case "campaign.get": return try await campaignGet(request.params)
        case "campaign.list": return try await campaignList(request.params)
        case "campaign.pause": return try await campaignSetState(request.params, to: .paused)
        case "campaign.resume": return try await campaignSetState(request.params, to: .active)
        case "campaign.cancel": return try await campaignSetState(request.params, to: .cancelled)
        case "lead.import": return try await leadImport(request.params)
        case "lead.get": return try await leadGet(request.params)
        case "suppression.add": return try await suppressionAdd(request.params)
        case "suppression.remove": return try await suppressionRemove(request.params)
        case "suppression.list": return try await suppressionList(request.params)
        default: throw .methodNotFound(request.method)
        }
    }

    // MARK: methods

    /// Entries (and hits and misses, for caches) of what is kept in memory.
    private func cacheStatus() -> JSONValue {
        var caches = JSONObject()
        for (name, c) in runtime.rules.cacheStatus().sorted(by: { $0.key < $1.key }) {
            var o = JSONObject(["entries": .integer(Int64(c.entries))])
            o["hits"] = c.hits.map { .integer(Int64($0)) }
            o["misses"] = c.misses.map { .integer(Int64($0)) }
            caches[name] = .object(o)
        }
        return .object(caches)
    }

    private func status(_ params: JSONObject) throws(RPCError) -> JSONValue {
        _ = try Params(params, allowed: [])
        let stats = runtime.store.stats()
        let now = runtime.clock.nowMilliseconds()
        var status = JSONObject([
            "version": .string(Self.version),
            "pid": .integer(Int64(getpid())),
            "started_at": .string(Timestamp.format(runtime.startedAt)),
            "uptime_seconds": .integer((now - runtime.startedAt) / 1000),
            "config": .string(runtime.config.path),
            "queue": Self.counts(stats.total),
            "events_dropped": .integer(Int64(runtime.events.dropped)),
            "caches": cacheStatus(),
            "channels": .array(
                runtime.channels.map {
                    .object(JSONObject(["name": .string($0.name), "state": .string($0.stateWord)]))
                }),
        ])
        if let cluster = runtime.store.cluster {
            status["node"] = .string(cluster.node)
            status["cluster"] = .object(
                JSONObject([
                    "lease_seconds": .integer(cluster.lease.components.seconds),
                    "nodes": .array(
                        cluster.nodes.map { node in
                            .object(
                                JSONObject([
                                    "name": .string(node.name), "host": .string(node.host),
                                    "pid": .integer(Int64(node.pid)), "silent_ms": .integer(node.silentFor),
                                    "in_flight": .integer(node.inFlight.values.reduce(0, +)),
                                ]))
                        }),
                ]))
        }
        return .object(status)
    }

    /// `config` is the configuration the message is checked against, and `now` the time it is
    /// due when it names none: a batch reads both once.
    func newMessage(from fields: SendFields, config: LeaddConfig, now: Int64) throws(RPCError) -> NewMessage {
        let tenant = try Self.required(fields.tenant, "tenant", maxLength: 128)
        let channel = try Self.required(fields.channel, "channel", maxLength: 64)
        guard config.channel(named: channel) != nil else {
            let known = config.channels.map(\.name).joined(separator: ", ")
            throw .invalidParams(field: "channel", "no channel '\(channel)' is configured (configured: \(known))")
        }
        let to = try Self.required(fields.to, "to", maxLength: 320)
        let text = try Params.string(fields.text, field: "text", maxLength: 65536)
        let subject = try Params.string(fields.subject, field: "subject", maxLength: 998)
        let html = try Params.string(fields.html, field: "html", maxLength: 1 << 20)
        let template = try Params.object(fields.template, field: "template")
        guard text != nil || html != nil || template != nil else {
            throw .invalidParams(field: "text", "one of text, html or template is required")
        }
        let dueAt = try Params.timestamp(fields.sendAt, field: "send_at") ?? now
        var zone: TimeZone?
        if let name = try Params.string(fields.timezone, field: "timezone", maxLength: 64) {
            guard let value = TimeZone(identifier: name) else {
                throw .invalidParams(field: "timezone", "'\(name)' is not an IANA time zone (like America/Sao_Paulo)")
            }
            zone = value
        }
        var priority = Priority.normal
        if let word = try Params.string(fields.priority, field: "priority", maxLength: 16) {
            guard let value = Priority(name: word) else {
                throw .invalidParams(field: "priority", "'\(word)' is not one of urgent, normal, bulk")
            }
            priority = value
        }
        let key = try Params.string(fields.idempotencyKey, field: "idempotency_key", maxLength: 256)
        return NewMessage(
            tenant: tenant, channel: channel, to: to,
            contentJSON: Self.content(text: text, subject: subject, html: html, template: template), dueAt: dueAt,
            priority: priority, idempotencyKey: key, timeZone: zone?.identifier)
    }

    private static func required(_ value: JSONValue?, _ field: String, maxLength: Int) throws(RPCError) -> String {
        guard let s = try Params.string(value, field: field, maxLength: maxLength) else {
            throw .invalidParams(field: field, "is required")
        }
        return s
    }

    /// The channel content as a JSON object text, written directly, in the order text, subject,
    /// html, template.
    static func content(text: String?, subject: String?, html: String?, template: JSONObject?) -> String {
        var out = "{"
        func member(_ name: String) {
            if out.utf8.count > 1 { out += "," }
            out += "\"" + name + "\":"
        }
        if let text {
            member("text")
            JSONValue.writeString(text, to: &out)
        }
        if let subject {
            member("subject")
            JSONValue.writeString(subject, to: &out)
        }
        if let html {
            member("html")
            JSONValue.writeString(html, to: &out)
        }
        if let template {
            member("template")
            JSONValue.object(template).write(to: &out)
        }
        return out + "}"
    }

    private func send(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let message = try newMessage(
            from: SendFields(checking: params), config: runtime.config.current, now: runtime.clock.nowMilliseconds())
        let results = try await enqueue([message])
        return Self.sendResult(results[0])
    }

    func enqueue(_ messages: [NewMessage]) async throws(RPCError) -> [EnqueueResult] {
        let now = runtime.clock.nowMilliseconds()
        let results: [EnqueueResult]
        do {
            results = try await runtime.store.enqueue(messages, now: now)
        } catch let error as SQLiteError where error.isStorageFull {
            logger.error("store refused \(messages.count) messages: \(error)")
            throw .storageUnavailable(error.message)
        } catch {
            logger.error("store refused \(messages.count) messages: \(error)")
            throw .storageUnavailable("\(error)")
        }
        var perChannel: [String: (accepted: Int, duplicates: Int)] = [:]
        for (message, result) in zip(messages, results) {
            if result.duplicate {
                perChannel[message.channel, default: (0, 0)].duplicates += 1
            } else {
                perChannel[message.channel, default: (0, 0)].accepted += 1
            }
        }
        for (channel, n) in perChannel {
            runtime.metrics.recordEnqueued(channel: channel, accepted: n.accepted, duplicates: n.duplicates)
        }
        // The dispatchers hear of the new rows from the store once they commit; nothing to wake here.
        return results
    }

    /// The same text as `RPCResponse.success(id:result: sendResult(result)).serialized`, written directly.
    static func sendAnswer(id: JSONValue, _ result: EnqueueResult) -> String {
        #"{"jsonrpc":"2.0","id":"# + id.serialized + #","result":{"id":""# + String(result.id) + #"","duplicate":"#
            + (result.duplicate ? "true" : "false") + "}}"
    }

    static func sendResult(_ result: EnqueueResult) -> JSONValue {
        .object(JSONObject(["id": .string(String(result.id)), "duplicate": .bool(result.duplicate)]))
    }

    private func get(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["id"])
        let id = try p.id("id")
        let found: StoredMessage?
        do {
            found = try await runtime.store.message(id: id)
        } catch {
            throw .internalError("\(error)")
        }
        guard let m = found else { throw .notFound("message \(id)", field: "id") }
        var object = JSONObject([
            "id": .string(String(m.id)),
            "state": .string(m.state.description),
            "tenant": .string(m.tenant),
            "channel": .string(m.channel),
            "to": .string(m.to),
            "due_at": .string(Timestamp.format(m.dueAt)),
            "created_at": .string(Timestamp.format(m.createdAt)),
            "priority": .string(m.priority.description),
            "idempotency_key": .string(m.idempotencyKey),
        ])
        if let sentAt = m.sentAt { object["sent_at"] = .string(Timestamp.format(sentAt)) }
        if let providerID = m.providerID { object["provider_id"] = .string(providerID) }
        if let lastError = m.lastError { object["last_error"] = .string(lastError) }
        object["content"] = (try? JSONValue.parse(m.contentJSON)) ?? .null
        object["attempts"] = .array(
            m.attempts.map { a in
                .object(
                    JSONObject([
                        "at": .string(Timestamp.format(a.at)), "outcome": .string(a.outcome),
                        "detail": a.detail.map { .string($0) }, "sender": a.sender.map { .string($0) },
                    ]))
            })
        return .object(object)
    }

    private func queueStats(_ params: JSONObject) throws(RPCError) -> JSONValue {
        _ = try Params(params, allowed: [])
        let stats = runtime.store.stats()
        var channels = JSONObject()
        for name in Set(stats.byChannel.keys).union(runtime.channels.map(\.name)).sorted() {
            channels[name] = Self.counts(stats.byChannel[name] ?? [:])
        }
        return .object(JSONObject(["total": Self.counts(stats.total), "channels": .object(channels)]))
    }

    static func counts(_ counts: [MessageState: Int64]) -> JSONValue {
        var object = JSONObject()
        for state in MessageState.allCases { object[state.description] = .integer(counts[state] ?? 0) }
        return .object(object)
    }

    private func channelList(_ params: JSONObject) throws(RPCError) -> JSONValue {
        _ = try Params(params, allowed: [])
        let cluster = runtime.store.cluster
        return .array(
            runtime.channels.map { channel in
                var object = JSONObject([
                    "name": .string(channel.name), "plugin": .string(channel.plugin),
                    "state": .string(channel.stateWord),
                ])
                switch channel.state {
                case .running(let instance, let dispatcher):
                    object["breaker"] = Self.breaker(dispatcher)
                    let batches = dispatcher.batches()
                    object["batches"] = .object(
                        JSONObject([
                            "calling": .integer(Int64(batches.calling)),
                            "recording": .integer(Int64(batches.recording)),
                            "unrecorded": .integer(Int64(batches.unrecorded)),
                        ]))
                    object["version"] = .string(instance.table.version)
                    object["kind"] = .string(instance.table.channelKind)
                    object["abi"] = .string("\(instance.table.abiMajor).\(instance.table.abiMinor)")
                    object["health"] = .string(instance.healthProblem() ?? "ok")
                case .failed(let reason):
                    object["error"] = .string(reason)
                }
                if let cluster {
                    // Which node answers, and which nodes hold this channel's messages in flight.
                    object["node"] = .string(cluster.node)
                    var held = JSONObject()
                    for node in cluster.nodes { held[node.name] = .integer(node.inFlight[channel.name] ?? 0) }
                    object["in_flight_by_node"] = .object(held)
                }
                return .object(object)
            })
    }

    private func metrics(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        _ = try Params(params, allowed: [])
        return .string(
            runtime.metrics.render(
                stats: runtime.store.stats(), channels: runtime.channels, droppedEvents: runtime.events.dropped))
    }

    private func subscribe(_ params: JSONObject, connection: ControlConnection?) throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["types", "channel", "tenant"])
        var filter = EventFilter()
        filter.channel = try p.string("channel", maxLength: 64)
        filter.tenant = try p.string("tenant", maxLength: 128)
        if let value = params["types"] {
            guard case .array(let items) = value, !items.isEmpty else {
                throw .invalidParams(field: "types", "must be a non-empty array of event types")
            }
            var types = Set<String>()
            for item in items {
                guard let type = item.stringValue, EventFilter.knownTypes.contains(type) else {
                    throw .invalidParams(
                        field: "types",
                        "\(item.serialized) is not an event type (\(EventFilter.knownTypes.sorted().joined(separator: ", ")))"
                    )
                }
                types.insert(type)
            }
            filter.types = types
        }
        guard let connection else {
            throw RPCError(code: -32600, message: "invalid request: events.subscribe needs a socket connection")
        }
        try connection.subscribe(filter)
        return .object(JSONObject(["subscribed": .bool(true)]))
    }

    private func deadLetterFilter(_ p: Params) throws(RPCError) -> DeadLetterFilter {
        var filter = DeadLetterFilter()
        filter.tenant = try p.string("tenant", maxLength: 128)
        filter.channel = try p.string("channel", maxLength: 64)
        filter.campaign = try p.string("campaign", maxLength: 128)
        filter.error = try p.string("error", maxLength: 1024)
        if let value = p.object["ids"] {
            guard case .array(let items) = value, !items.isEmpty, items.count <= 10_000 else {
                throw .invalidParams(field: "ids", "must be an array of 1 to 10,000 message ids")
            }
            var ids: [Int64] = []
            for (index, item) in items.enumerated() {
                guard let text = item.stringValue, let id = Int64(text), id > 0 else {
                    throw .invalidParams(field: "ids.\(index)", "\(item.serialized) is not a message id")
                }
                ids.append(id)
            }
            filter.ids = ids
        }
        return filter
    }

    func storeFailure(_ error: any Error) -> RPCError {
        logger.error("store request failed: \(error)")
        if let error = error as? SQLiteError, error.isStorageFull { return .storageUnavailable(error.message) }
        return .internalError("\(error)")
    }

    private func deadLetterList(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["ids", "tenant", "channel", "campaign", "error", "limit", "after"])
        let filter = try deadLetterFilter(p)
        var limit = 100
        if let value = params["limit"] {
            guard let n = value.int64Value, (1...1000).contains(n) else {
                throw .invalidParams(field: "limit", "must be a number from 1 to 1000")
            }
            limit = Int(n)
        }
        let after = params["after"] == nil ? 0 : try p.id("after")
        let found: [StoredMessage]
        do {
            found = try await runtime.store.deadLetters(filter, after: after, limit: limit)
        } catch {
            throw storeFailure(error)
        }
        let items: [JSONValue] = found.map { m in
            .object(
                JSONObject([
                    "id": .string(String(m.id)), "tenant": .string(m.tenant), "channel": .string(m.channel),
                    "to": .string(m.to), "attempts": .integer(Int64(m.attemptCount)),
                    "last_error": m.lastError.map { .string($0) },
                    "dead_at": m.attempts.last.map { .string(Timestamp.format($0.at)) },
                ]))
        }
        var result = JSONObject(["messages": .array(items)])
        if found.count == limit, let last = found.last { result["next"] = .string(String(last.id)) }
        return .object(result)
    }

    private func deadLetterRetry(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["ids", "tenant", "channel", "campaign", "error"])
        let filter = try deadLetterFilter(p)
        let count: Int
        do {
            count = try await runtime.store.retryDeadLetters(filter, now: runtime.clock.nowMilliseconds())
        } catch {
            throw storeFailure(error)
        }
        if count > 0 { for channel in runtime.channels { channel.dispatcher?.waker.wake() } }
        return .object(JSONObject(["retried": .integer(Int64(count))]))
    }

    private func deadLetterPurge(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["ids", "tenant", "channel", "campaign", "error", "all"])
        let filter = try deadLetterFilter(p)
        let all = params["all"]?.boolValue ?? false
        if let value = params["all"], value.boolValue == nil {
            throw .invalidParams(field: "all", "must be true or false")
        }
        // Purging every dead letter must be asked for in so many words.
        guard !filter.isEmpty || all else {
            throw .invalidParams(field: "all", "give a filter (ids, tenant, channel, campaign, error) or all: true")
        }
        let count: Int
        do {
            count = try await runtime.store.purgeDeadLetters(filter, now: runtime.clock.nowMilliseconds())
        } catch {
            throw storeFailure(error)
        }
        return .object(JSONObject(["purged": .integer(Int64(count))]))
    }

    static func breaker(_ dispatcher: ChannelDispatcher) -> JSONValue {
        let b = dispatcher.breakerSnapshot()
        var object = JSONObject([
            "state": .string(b.state.description), "since": .string(Timestamp.format(b.since)),
            "calls": .integer(Int64(b.calls)), "failures": .integer(Int64(b.failures)),
        ])
        if case .open(let until) = b.state { object["open_until"] = .string(Timestamp.format(until)) }
        object["reason"] = b.reason.map { .string($0) }
        return .object(object)
    }

    private func breakerList(_ params: JSONObject) throws(RPCError) -> JSONValue {
        _ = try Params(params, allowed: [])
        return .array(
            runtime.channels.compactMap { channel in
                guard let dispatcher = channel.dispatcher, case .object(var b) = Self.breaker(dispatcher) else {
                    return nil
                }
                b["channel"] = .string(channel.name)
                let senders = dispatcher.senderSnapshot().sorted { $0.key < $1.key }
                if !senders.isEmpty {
                    b["senders"] = .array(
                        senders.map { id, s in
                            var o = JSONObject([
                                "sender": .string(id), "state": .string(s.state.description),
                                "since": .string(Timestamp.format(s.since)),
                            ])
                            if case .open(let until) = s.state { o["open_until"] = .string(Timestamp.format(until)) }
                            o["reason"] = s.reason.map { .string($0) }
                            return .object(o)
                        })
                }
                return .object(b)
            })
    }

    private func breakerReset(_ params: JSONObject) throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["channel", "sender"])
        let name = try p.requiredString("channel", maxLength: 64)
        guard let channel = runtime.channel(named: name) else { throw .notFound("channel \(name)", field: "channel") }
        guard let dispatcher = channel.dispatcher else {
            throw .invalidParams(field: "channel", "channel '\(name)' is not running, so it has no breaker")
        }
        if let sender = try p.string("sender", maxLength: 64) {
            guard let changed = dispatcher.resetSenderBreaker(sender) else {
                throw .notFound("sender '\(sender)' on channel \(name)", field: "sender")
            }
            return .object(
                JSONObject(["channel": .string(name), "sender": .string(sender), "changed": .bool(changed)]))
        }
        // Idempotent: resetting a closed breaker changes nothing and says so.
        return .object(JSONObject(["channel": .string(name), "changed": .bool(dispatcher.resetBreaker())]))
    }

    private func reload(_ params: JSONObject) throws(RPCError) -> JSONValue {
        _ = try Params(params, allowed: [])
        do {
            let report = try runtime.reloadConfig()
            return .object(
                JSONObject([
                    "reloaded": .bool(report.applied),
                    "restart_required": .array(report.restartRequired.map { .string($0) }),
                ]))
        } catch {
            throw .configInvalid(error)
        }
    }
}
