// sender.put/get/list: the identities channels send from, each with its own limits and breaker.
import Foundation
import LeaddProtocol
import PluginAPI

extension ControlService {
    func senderPut(_ params: JSONObject) async throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["id", "channel", "settings", "rate", "burst", "concurrency"])
        let id = try p.requiredString("id", maxLength: 64)
        guard Sender.isValidID(id) else {
            throw .invalidParams(field: "id", "'\(id)' must be 1-64 letters, digits, '.', '-' or '_'")
        }
        let current = runtime.config.current
        if let declared = current.sender(id: id) {
            throw .invalidParams(
                field: "id",
                "sender '\(id)' is declared in the config file under channels.\(declared.channel).senders; change it there"
            )
        }
        let channelName = try p.requiredString("channel", maxLength: 64)
        guard let channel = current.channel(named: channelName) else {
            throw .notFound("channel '\(channelName)'", field: "channel")
        }
        if let existing = runtime.rules.senders.sender(id, config: current), existing.channel != channelName {
            throw .invalidParams(field: "channel", "sender '\(id)' belongs to channel \(existing.channel)")
        }
        var sender = Sender(id: id, channel: channelName)
        sender.settingsJSON = JSONValue.object(try p.object("settings") ?? JSONObject()).serialized
        sender.rate = try p.rate("rate")
        sender.burst = try p.integer("burst", in: 1...1_000_000)
        sender.concurrency = try p.integer("concurrency", in: 1...10_000) ?? sender.concurrency
        try checkStarts(sender, channel: channel)
        let stored: Sender
        do {
            stored = try await runtime.store.putSender(sender, now: runtime.clock.nowMilliseconds())
        } catch {
            throw storeFailure(error)
        }
        runtime.rules.senders.put(stored)
        runtime.channel(named: channelName)?.dispatcher?.waker.wake()
        return senderJSON(stored)
    }

    /// Starts the channel's plugin with the sender's settings once, so that unknown keys, a
    /// secret written in clear or one that cannot be read are refused now, not at the first send.
    private func checkStarts(_ sender: Sender, channel: ChannelConfig) throws(RPCError) {
        guard runtime.channel(named: channel.name)?.dispatcher != nil else {
            throw .invalidParams(
                field: "channel", "channel '\(channel.name)' is not running; its plugin cannot check the settings")
        }
        var config = channel
        do {
            config.settingsJSON = try sender.settings(over: channel.settingsJSON)
        } catch {
            throw .invalidParams(field: "settings", error.description)
        }
        do throws(PluginRefusal) {
            let directory = runtime.config.current.daemon.pluginDirectory ?? PluginLoader.defaultDirectory()
            try PluginLoader.start(channel: config, directory: directory, logger: logger).shutdown()
        } catch {
            throw .invalidParams(field: "settings", "the \(channel.plugin) plugin refuses them: \(error.description)")
        }
    }

    func senderJSON(_ s: Sender) -> JSONValue {
        var o = JSONObject([
            "id": .string(s.id), "channel": .string(s.channel), "origin": .string(s.origin.rawValue),
            "settings": (try? JSONValue.parse(s.settingsJSON)) ?? .object(JSONObject()),
            "concurrency": .integer(Int64(s.concurrency)),
        ])
        o["rate"] = s.rate.map { .string($0.description) }
        o["burst"] = s.burst.map { .integer(Int64($0)) }
        if s.origin == .stored {
            o["created_at"] = .string(Timestamp.format(s.createdAt))
            o["updated_at"] = .string(Timestamp.format(s.updatedAt))
        }
        if let live = runtime.channel(named: s.channel)?.dispatcher?.senderSnapshot()[s.id] {
            var b = JSONObject([
                "state": .string(live.state.description), "since": .string(Timestamp.format(live.since)),
            ])
            if case .open(let until) = live.state { b["open_until"] = .string(Timestamp.format(until)) }
            b["reason"] = live.reason.map { .string($0) }
            o["breaker"] = .object(b)
            o["in_flight"] = .integer(Int64(live.inFlight))
            o["running"] = .bool(live.ready)
        }
        return .object(o)
    }

    func senderGet(_ params: JSONObject) throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["id"])
        let id = try p.requiredString("id", maxLength: 64)
        guard let sender = runtime.rules.senders.sender(id, config: runtime.config.current) else {
            throw .notFound("sender '\(id)'", field: "id")
        }
        return senderJSON(sender)
    }

    func senderList(_ params: JSONObject) throws(RPCError) -> JSONValue {
        let p = try Params(params, allowed: ["channel"])
        let channel = try p.string("channel", maxLength: 64)
        let all = runtime.rules.senders.all(config: runtime.config.current)
        return .object(
            JSONObject(["senders": .array(all.filter { channel == nil || $0.channel == channel }.map(senderJSON))]))
    }

    /// tenant.put's `senders`: every id must name a known sender.
    func tenantSenders(_ p: Params) throws(RPCError) -> [String]? {
        guard let list = try p.array("senders") else { return nil }
        var ids: [String] = []
        for (index, item) in list.enumerated() {
            guard case .string(let id) = item else {
                throw .invalidParams(field: "senders[\(index)]", "must be a sender id (a string)")
            }
            guard runtime.rules.senders.sender(id, config: runtime.config.current) != nil else {
                throw .notFound("sender '\(id)'", field: "senders[\(index)]")
            }
            if !ids.contains(id) { ids.append(id) }
        }
        return ids
    }
}
