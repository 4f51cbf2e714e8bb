import Foundation
import Logging
import Testing

@testable import LeaddCore

@Suite struct EventBusTests {
    func event(_ type: String, channel: String = "sms") -> LeaddEvent {
        LeaddEvent(type: type, at: 0, channel: channel, tenant: "acme", messageID: 1, detail: nil)
    }

    @Test func aSlowSubscriberLosesEventsNotTheDispatcher() {
        let bus = EventBus()
        let subscription = bus.subscribe(EventFilter(), buffer: 2)
        let dropped = bus.publish((0..<5).map { _ in event("sent") })
        #expect(dropped == 3)
        #expect(subscription.takeDropped() == 3)
        #expect(subscription.takeDropped() == 0)
        #expect(bus.dropped == 3)
    }

    @Test func filtersSelectTypesChannelsAndTenants() {
        let filter = EventFilter(types: ["dead"], channel: "sms", tenant: nil)
        #expect(filter.matches(event("dead")))
        #expect(!filter.matches(event("sent")))
        #expect(!filter.matches(event("dead", channel: "email")))
        #expect(EventFilter().matches(event("reload")))
    }

    @Test func publishingWithoutSubscribersDoesNothing() {
        let bus = EventBus()
        #expect(!bus.hasSubscribers)
        let s = bus.subscribe(EventFilter())
        #expect(bus.hasSubscribers)
        bus.unsubscribe(s)
        #expect(!bus.hasSubscribers)
        #expect(bus.publish([event("sent")]) == 0)
    }
}

@Suite struct LoggingTests {
    @Test func journalFieldsForKnownAndOtherMetadata() {
        #expect(JournalField.name(for: "tenant.id") == "TENANT")
        #expect(JournalField.name(for: "campaign") == "CAMPAIGN")
        #expect(JournalField.name(for: "channel") == "CHANNEL")
        #expect(JournalField.name(for: "message.id") == "LEADD_MESSAGE")
        #expect(JournalField.name(for: "event.id") == "MESSAGE_ID")
        #expect(JournalField.name(for: "plugin") == "LEADD_PLUGIN")
        #expect(JournalField.name(for: "a-b.c") == "LEADD_A_B_C")
    }

    @Test func syslogPriorities() {
        #expect(Logger.Level.error.syslogPriority == 3)
        #expect(Logger.Level.info.syslogPriority == 6)
        #expect(Logger.Level.debug.syslogPriority == 7)
    }

    @Test func withoutJournalStreamLogsGoToStderr() {
        unsetenv("JOURNAL_STREAM")
        #expect(LogTarget.detect() == .stderr)
        setenv("JOURNAL_STREAM", "0:0", 1)
        defer { unsetenv("JOURNAL_STREAM") }
        #expect(LogTarget.detect() == .stderr)
    }
}

@Suite struct MetricsConfigTests {
    @Test func metricsListenIsLoopbackOnly() throws {
        let ok = try ConfigDecoder.decode("daemon:\n  metrics_listen: 127.0.0.1:9464\n", file: "t.yaml")
        #expect(ok.daemon.metricsListen == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(
            try ConfigDecoder.decode("daemon:\n  metrics_listen: \"[::1]:9\"\n", file: "t.yaml").daemon.metricsListen?
                .host == "::1")
        #expect {
            _ = try ConfigDecoder.decode("daemon:\n  metrics_listen: 0.0.0.0:9464\n", file: "t.yaml")
        } throws: { error in
            (error as? ConfigError)?.reason.contains("not a loopback address") == true
        }
    }
}

@Suite struct JournalEntryTests {
    @Test func anEntryCarriesPriorityMessageAndStructuredFields() {
        var handler = SystemLogHandler(target: .journal, level: .info)
        handler[metadataKey: "channel"] = "sms"
        let event = LogEvent(
            level: .notice, message: "message 7 dead: gave up", metadata: ["message.id": "7", "tenant.id": "acme"],
            source: nil, file: "f.swift", function: "g()", line: 3)
        let fields = handler.fields(for: event)
        #expect(fields.contains("MESSAGE=message 7 dead: gave up"))
        #expect(fields.contains("PRIORITY=5"))
        #expect(fields.contains("SYSLOG_IDENTIFIER=leadd"))
        #expect(fields.contains("CHANNEL=sms"))
        #expect(fields.contains("LEADD_MESSAGE=7"))
        #expect(fields.contains("TENANT=acme"))
    }
}
