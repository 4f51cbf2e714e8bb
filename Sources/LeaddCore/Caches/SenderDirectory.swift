// Senders stored with `sender.put`, mirrored in memory (all writes go through this daemon), and
// looked up together with those the config file declares. A declared sender wins over a stored
// one of the same id; `sender.put` refuses such ids so the two never disagree.
import LeaddSync

public final class SenderDirectory: Sendable {
    private struct State {
        var stored: [String: Sender] = [:]
        var version = 0
    }

    private let state = Locked(State())

    public init() {}

    public func load(_ senders: [Sender]) {
        state.withLock { s in
            for sender in senders { s.stored[sender.id] = sender }
            s.version += 1
        }
    }

    public func put(_ sender: Sender) {
        state.withLock { s in
            s.stored[sender.id] = sender
            s.version += 1
        }
    }

    /// Changes with every put, so dispatchers know to look again.
    public var version: Int { state.withLock { $0.version } }

    public func sender(_ id: String, config: LeaddConfig) -> Sender? {
        config.sender(id: id) ?? state.withLock { $0.stored[id] }
    }

    /// Every sender of `channel`, declared then stored, by id.
    public func senders(channel: String, config: LeaddConfig) -> [Sender] {
        let declared = config.channel(named: channel)?.senders ?? []
        let ids = Set(declared.map(\.id))
        let stored = state.withLock { s in s.stored.values.filter { $0.channel == channel && !ids.contains($0.id) } }
        return declared + stored.sorted { $0.id < $1.id }
    }

    /// Every sender on any channel, for sender.list.
    public func all(config: LeaddConfig) -> [Sender] {
        let declared = config.channels.flatMap(\.senders)
        let ids = Set(declared.map(\.id))
        let stored = state.withLock { s in s.stored.values.filter { !ids.contains($0.id) } }
        return (declared + stored).sorted { $0.id < $1.id }
    }
}
