// Notifications for `events.subscribe`: sent, failed, retried, dead, breaker, reload. Each subscriber has
// a bounded buffer; when it is full, events for that subscriber are dropped and counted, so a
// slow subscriber never slows dispatch. Publishing with no subscriber costs one atomic load.
import Foundation
import LeaddProtocol
import LeaddSync
import Synchronization

public struct LeaddEvent: Sendable, Equatable {
    public var type: String
    public var at: Int64
    public var channel: String?
    public var tenant: String?
    public var messageID: Int64?
    public var detail: String?

    public var json: JSONValue {
        var object = JSONObject(["type": .string(type), "at": .string(Timestamp.format(at))])
        object["channel"] = channel.map { .string($0) }
        object["tenant"] = tenant.map { .string($0) }
        object["message_id"] = messageID.map { .string(String($0)) }
        object["detail"] = detail.map { .string($0) }
        return .object(object)
    }

    /// The event word for an outcome recorded in a message's history.
    static func type(for word: String) -> String {
        switch word {
        case "delivered": "sent"
        case "retry", "unavailable": "retried"
        default: word
        }
    }
}

/// Which events a subscriber wants; nil fields match everything.
public struct EventFilter: Sendable, Equatable {
    public var types: Set<String>?
    public var channel: String?
    public var tenant: String?

    public static let knownTypes: Set<String> = ["sent", "failed", "retried", "dead", "breaker", "reload", "dropped"]

    public func matches(_ event: LeaddEvent) -> Bool {
        if let types, !types.contains(event.type) { return false }
        if let channel, event.channel != nil, event.channel != channel { return false }
        if let tenant, event.tenant != nil, event.tenant != tenant { return false }
        return true
    }
}

public final class EventBus: Sendable {
    public final class Subscription: Sendable {
        public let id: UInt64
        public let filter: EventFilter
        public let events: AsyncStream<LeaddEvent>
        let continuation: AsyncStream<LeaddEvent>.Continuation
        private let dropped = Atomic<Int>(0)

        init(id: UInt64, filter: EventFilter, buffer: Int) {
            self.id = id
            self.filter = filter
            (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(buffer))
        }

        func offer(_ event: LeaddEvent) -> Bool {
            if case .dropped = continuation.yield(event) {
                dropped.add(1, ordering: .relaxed)
                return false
            }
            return true
        }

        /// Drops since the last call, so the subscriber can be told how many it missed.
        public func takeDropped() -> Int { dropped.exchange(0, ordering: .relaxed) }
    }

    private let subscribers = Locked<[UInt64: Subscription]>([:])
    private let count = Atomic<Int>(0)
    private let nextID = Atomic<UInt64>(1)
    private let droppedTotal = Atomic<Int>(0)
    public static let bufferSize = 10_000

    public init() {}

    public var hasSubscribers: Bool { count.load(ordering: .relaxed) > 0 }

    /// Events dropped for slow subscribers since the daemon started.
    public var dropped: Int { droppedTotal.load(ordering: .relaxed) }

    public func subscribe(_ filter: EventFilter, buffer: Int = EventBus.bufferSize) -> Subscription {
        let subscription = Subscription(
            id: nextID.add(1, ordering: .relaxed).oldValue, filter: filter, buffer: buffer)
        subscribers.withLock { $0[subscription.id] = subscription }
        count.add(1, ordering: .relaxed)
        return subscription
    }

    public func unsubscribe(_ subscription: Subscription) {
        if subscribers.withLock({ $0.removeValue(forKey: subscription.id) }) != nil {
            count.subtract(1, ordering: .relaxed)
        }
        subscription.continuation.finish()
    }

    /// Hands events to every matching subscriber; returns how many were dropped.
    @discardableResult
    public func publish(_ events: [LeaddEvent]) -> Int {
        guard hasSubscribers, !events.isEmpty else { return 0 }
        let current = subscribers.withLock { Array($0.values) }
        var dropped = 0
        for subscription in current {
            for event in events where subscription.filter.matches(event) {
                if !subscription.offer(event) { dropped += 1 }
            }
        }
        if dropped > 0 { droppedTotal.add(dropped, ordering: .relaxed) }
        return dropped
    }
}
