import Foundation
import Testing

@testable import LeaddCore

@Suite struct SendingWindowTests {
    func window(_ zone: String, days: Set<Int> = Set(1...7), _ hours: String...) -> SendingWindow {
        SendingWindow(
            name: "w", timeZone: TimeZone(identifier: zone)!, days: days,
            ranges: hours.map { ConfigDecoder.parseHours($0)! })
    }

    func ms(_ text: String) -> Int64 { Timestamp.parse(text)! }

    @Test func weekdayHoursDeferTheWeekendToMonday() {
        let w = window("America/Sao_Paulo", days: [2, 3, 4, 5, 6], "09:00-18:00")
        // Saturday 2023-06-03 10:00 local (UTC-3) -> Monday 09:00 local.
        #expect(!w.contains(ms("2023-06-03T13:00:00Z")))
        #expect(w.nextOpening(after: ms("2023-06-03T13:00:00Z")) == ms("2023-06-05T12:00:00Z"))
        // Inside the window: now.
        #expect(w.nextOpening(after: ms("2023-06-05T15:00:00Z")) == ms("2023-06-05T15:00:00Z"))
        // After closing on Friday: Monday.
        #expect(w.nextOpening(after: ms("2023-06-02T21:00:00Z")) == ms("2023-06-05T12:00:00Z"))
    }

    @Test func saoPauloSpringForwardOpensAfterTheGap() {
        // 2018-11-04: clocks went from 00:00 to 01:00 (UTC-3 to UTC-2); local midnight never happened.
        let w = window("America/Sao_Paulo", "00:00-06:00")
        let opening = w.nextOpening(after: ms("2018-11-04T02:30:00Z"))  // 23:30 on the 3rd
        #expect(opening == ms("2018-11-04T03:00:00Z"))  // 01:00 local, UTC-2
        #expect(w.contains(opening))
    }

    @Test func lisbonFallBackUsesTheNewOffset() {
        // 2023-10-29: 02:00 WEST became 01:00 WET; 09:00 that day is 09:00Z, not 08:00Z.
        let w = window("Europe/Lisbon", "09:00-18:00")
        #expect(w.nextOpening(after: ms("2023-10-28T20:00:00Z")) == ms("2023-10-29T09:00:00Z"))
        #expect(w.contains(ms("2023-10-29T17:59:00Z")))
        #expect(!w.contains(ms("2023-10-29T18:00:00Z")))
    }

    @Test func newYorkSpringForwardNeverOpensEarly() {
        // 2024-03-10: 02:00 EST became 03:00 EDT; a window opening at 02:30 opens after the gap.
        let w = window("America/New_York", "02:30-04:00")
        let asked = ms("2024-03-10T06:00:00Z")  // 01:00 EST
        let opening = w.nextOpening(after: asked)
        #expect(w.contains(opening))
        #expect(opening >= ms("2024-03-10T07:00:00Z"))
        #expect(opening <= ms("2024-03-10T07:30:00Z"))
    }

    /// Property: the next opening is never before the asked instant, is inside the window, and no
    /// minute between the two is inside the window.
    @Test func theNextOpeningIsTheFirstOpenMinute() {
        let w = window("America/Sao_Paulo", days: [2, 4, 6], "08:00-12:00", "14:00-18:30")
        var random = SplitMix64(seed: 11)
        let start = ms("2018-10-20T00:00:00Z")
        for _ in 0..<12 {
            let asked = start + Int64.random(in: 0...(60 * 86_400_000), using: &random) / 60_000 * 60_000
            let opening = w.nextOpening(after: asked)
            #expect(opening >= asked)
            #expect(w.contains(opening))
            var minute = asked
            while minute < opening {
                #expect(!w.contains(minute), "open at \(Timestamp.format(minute)) before \(Timestamp.format(opening))")
                if w.contains(minute) { return }
                minute += 60_000
            }
        }
    }
}

@Suite struct WindowGateTests {
    func config(hours: String, zone: String = "UTC") throws -> LeaddConfig {
        try ConfigDecoder.decode(
            """
            schedules:
              office: {timezone: \(zone), hours: "\(hours)"}
            tenants:
              defaults: {schedule: office}
              overrides:
                lisbon: {timezone: Europe/Lisbon}
            """, file: "t.yaml")
    }

    // 2026-01-05 (a Monday) 08:30 UTC.
    let monday0830: Int64 = 1_767_601_800_000

    @Test func aClosedWindowSaysWhenItOpensAndAReloadIsSeenAtOnce() throws {
        let gate = WindowGate()
        let nine = try config(hours: "09:00-18:00")
        #expect(gate.closedUntil(schedule: "office", zone: "", config: nine, now: monday0830) == monday0830 + 1_800_000)
        // Asked again, the same answer (remembered); after a reload to an open window, open.
        #expect(
            gate.closedUntil(schedule: "office", zone: "", config: nine, now: monday0830 + 1) == monday0830 + 1_800_000)
        let eight = try config(hours: "08:00-18:00")
        #expect(gate.closedUntil(schedule: "office", zone: "", config: eight, now: monday0830 + 2) == nil)
        #expect(gate.closedUntil(schedule: "office", zone: "", config: nine, now: monday0830 + 1_800_000) == nil)
        #expect(gate.closedUntil(schedule: nil, zone: "", config: nine, now: monday0830) == nil)
    }

    /// A reload that moves the window to another zone is seen at once, like one that changes its hours.
    @Test func aReloadThatChangesTheWindowsZoneIsSeenAtOnce() throws {
        let gate = WindowGate()
        let utc = try config(hours: "09:00-18:00")
        #expect(gate.closedUntil(schedule: "office", zone: "", config: utc, now: monday0830) != nil)
        // 08:30 UTC is 09:30 in Berlin: open there.
        let berlin = try config(hours: "09:00-18:00", zone: "Europe/Berlin")
        #expect(gate.closedUntil(schedule: "office", zone: "", config: berlin, now: monday0830 + 1) == nil)
    }

    @Test func theLeadsZoneAndTheTenantsZoneReplaceTheSchedulesZone() throws {
        let rules = SendRules()
        let config = try config(hours: "09:00-18:00")
        func closed(_ tenant: String, _ zone: String) -> Bool {
            let settings = rules.tenants.settings(for: tenant, config: config, generation: 0)
            return rules.windowClosedUntil(tenant: settings, campaign: nil, zone: zone, config: config, now: monday0830)
                != nil
        }
        // 08:30 UTC: 08:30 in Lisbon (UTC+0 in winter), 17:30 in Tokyo, 09:30 in Berlin, 03:30 in New York.
        #expect(closed("lisbon", ""))
        #expect(!closed("acme", "Asia/Tokyo"))
        #expect(!closed("lisbon", "Europe/Berlin"))
        #expect(closed("acme", "America/New_York"))
        // A campaign's own schedule replaces the tenant's.
        var campaign = Campaign(id: "c", tenant: "acme", name: "c", steps: [])
        campaign.schedule = "nowhere"
        let settings = rules.tenants.settings(for: "acme", config: config, generation: 0)
        #expect(
            rules.windowClosedUntil(tenant: settings, campaign: campaign, zone: "", config: config, now: monday0830)
                == nil)
    }
}
