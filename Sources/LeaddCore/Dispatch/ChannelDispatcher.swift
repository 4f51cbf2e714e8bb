// The loop that moves one channel's due messages to its plugin and records what happened.
//
// Its scheduler (HorizonQueue) holds the soon-due part of the channel's queue in memory and
// chooses what goes next (priorities, fair share between tenants, tenant limits); the loop
// claims those messages, hands them to the plugin in batches, and records the results, keeping
// up to `concurrency` batches in flight. With nothing due it sleeps until the earliest due time,
// or until an enqueue or a finished batch wakes it, and never longer than a second, so its
// heartbeat shows the watchdog that it is alive. Settings are read from the live config on every
// turn, so a reload applies without a restart. On shutdown it stops claiming and waits for the
// batches in flight.
import Foundation
import LeaddSync
import Logging
import PluginAPI
import Synchronization

public final class ChannelDispatcher: Sendable {
    public let name: String
    private let plugin: PluginInstance
    private let store: any QueueStore
    private let config: ConfigHolder
    private let clock: any WallClockProtocol
    private let logger: Logger
    private let metrics: LeaddMetrics
    private let events: EventBus
    public let waker = Waker()
    /// Batches being claimed or with the plugin: at most `concurrency`.
    private let inFlight = Atomic<Int>(0)
    /// Batches the plugin has answered whose outcomes are being stored.
    private let recording = Atomic<Int>(0)
    /// Messages picked or handed over whose outcomes are not yet stored: at most
    /// `batch_size x concurrency`, all that a crash can send twice.
    private let unrecorded = Atomic<Int>(0)
    /// Set by a claim the store refused, so the loop waits before it tries again.
    private let claimFailed = Atomic<Bool>(false)
    private let breaker: Locked<CircuitBreaker>
    /// The channel's rate limit; rebuilt when a reload changes the rate.
    private let bucket = Locked<TokenBucket?>(nil)
    private let lastBeat = Atomic<Int64>(ChannelDispatcher.monotonicMilliseconds())
    private let horizon: Locked<HorizonQueue>
    private let rules: SendRules
    /// Which lead address a channel sends to, for fallbacks to another channel; set by the runtime.
    private let addressKind: (@Sendable (String) -> AddressKind)?
    /// The senders' limits and breakers (lock order: gate, then horizon).
    private let gate = Locked(SenderGate())
    /// The senders' plugin instances; nil when this dispatcher cannot start plugins (senders unused).
    private let accounts: SenderAccounts?
    /// Claims messages just before they are due (lock order: horizon, then prefetch).
    private let prefetch: ClaimPrefetch
    private let prefetchWaker = Waker()

    /// What one pick chose: the rows, and the sender each goes through (absent: the channel's own).
    struct Pick {
        var rows: [QueuedRow] = []
        var blockedUntil: Int64?
        var senders: [Int64: String] = [:]
        /// Senders given a call in flight by this pick; each is released once its call is done.
        var used: [String] = []
    }

    /// The longest a loop sleeps without looking at the queue.
    static let maximumIdle: Duration = .seconds(1)

    public init(
        name: String, plugin: PluginInstance, store: any QueueStore, config: ConfigHolder,
        clock: any WallClockProtocol, logger: Logger, metrics: LeaddMetrics = LeaddMetrics(),
        events: EventBus = EventBus(), rules: SendRules = SendRules(),
        addressKind: (@Sendable (String) -> AddressKind)? = nil, startPlugin: PluginStarter? = nil
    ) {
        self.name = name
        self.rules = rules
        self.addressKind = addressKind
        self.horizon = Locked(
            HorizonQueue(channel: name, settings: .init(channel: config.current.channel(named: name))))
        self.breaker = Locked(
            CircuitBreaker(
                config: config.current.channel(named: name)?.breaker ?? BreakerConfig(), now: clock.nowMilliseconds()))
        self.metrics = metrics
        self.events = events
        self.plugin = plugin
        self.store = store
        self.config = config
        self.clock = clock
        var logger = logger
        logger[metadataKey: "channel"] = .string(name)
        self.logger = logger
        self.accounts = startPlugin.map { SenderAccounts(start: $0, logger: logger) }
        let channel = config.current.channel(named: name)
        self.prefetch = ClaimPrefetch(
            channel: name, store: store,
            capacity: max(1_000, 2 * (channel?.batchSize ?? 100) * (channel?.concurrency ?? 1)))
        // Registered before the first read of the queue, so no row committed after it is missed.
        store.observeQueue { [weak self] rows in self?.noted(rows) }
        store.observeReopenedLanes { [weak self] lanes in self?.reopened(lanes) }
    }

    /// Lanes another node added rows to: read again from there.
    private func reopened(_ lanes: [ReopenedLane]) {
        let mine = lanes.filter { $0.channel == name }
        guard !mine.isEmpty else { return }
        horizon.withLock { horizon in for lane in mine { horizon.reopen(lane.lane, from: lane.from) } }
        waker.wake()
        prefetchWaker.wake()
    }

    private func noted(_ rows: [QueuedRow]) {
        let mine = rows.filter { $0.channel == name }
        guard !mine.isEmpty else { return }
        let now = clock.nowMilliseconds()
        horizon.withLock { $0.noted(mine, now: now) }
        waker.wake()
        prefetchWaker.wake()
    }

    /// Runs until the task is cancelled; then finishes the batches in flight and returns.
    public func run() async {
        await loadLanes()
        await withDiscardingTaskGroup { group in
            group.addTask { await self.prefetchLoop() }
            while !Task.isCancelled {
                beat()
                let settings = config.current.channel(named: name)
                let concurrency = settings?.concurrency ?? 1
                let batchSize = settings?.batchSize ?? 100
                if inFlight.load(ordering: .acquiring) >= concurrency {
                    await waker.wait(upTo: Self.maximumIdle)
                    continue
                }
                // A disk that is slow to store outcomes holds sending back once the bound is reached.
                let room = batchSize * concurrency - unrecorded.load(ordering: .acquiring)
                if room <= 0 {
                    await waker.wait(upTo: Self.maximumIdle)
                    continue
                }
                // A claim that failed (the store refused it) holds the loop back for a while.
                if claimFailed.exchange(false, ordering: .acquiringAndReleasing) {
                    await waker.wait(upTo: Self.maximumIdle)
                    continue
                }
                horizon.withLock { $0.settings = .init(channel: settings) }
                syncSenders(settings)
                if await !refill() {
                    await waker.wait(upTo: .milliseconds(100))
                    continue
                }
                let now = clock.nowMilliseconds()
                // The limits run on the monotonic clock: a step of the wall clock changes no allowance.
                let tick = Self.monotonicMilliseconds()
                // An open breaker keeps the messages queued, untouched, until it lets probes through.
                let permission = breaker.withLock { breaker -> CircuitBreaker.Permission in
                    breaker.config = settings?.breaker ?? BreakerConfig()
                    return breaker.permission(now: now)
                }
                var limit = min(batchSize, room)
                var probing = false
                // While the channel's own breaker is open, tenants with senders of their own still send.
                var channelOpenUntil: Int64?
                switch permission {
                case .wait(let until) where !gate.withLock({ $0.isEmpty }):
                    channelOpenUntil = until
                case .wait(let until):
                    let troubleSince = breaker.withLock { $0.troubleSince }
                    if let after = settings?.breaker.fallbackAfter, let troubleSince,
                        now - troubleSince >= after.milliseconds,
                        await reroute(now: now, until: until, limit: batchSize)
                    {
                        continue
                    }
                    await sleep(until: until, now: now)
                    continue
                case .send(let probes):
                    if let probes { limit = min(limit, probes) }
                    probing = probes != nil
                }
                // The channel's rate limit: pick no more than its bucket holds, and give back what was not used.
                var tokens: Int?
                if var rate = settings?.rate {
                    var burst = settings?.burst
                    // Nodes sharing a store split the channel's limit evenly.
                    let nodes = Int((1 / store.rateShare).rounded())
                    if nodes > 1 {
                        rate.per = rate.per * nodes
                        burst = burst.map { max(1, $0 / nodes) }
                    }
                    let (taken, next) = bucket.withLock { bucket -> (Int, Int64) in
                        if let old = bucket, old.rate != rate || (burst != nil && old.burst != burst) {
                            // A new limit keeps the tokens held: a reload never hands out a fresh burst.
                            bucket = old.retuned(rate: rate, burst: burst, now: tick)
                        } else if bucket == nil {
                            bucket = TokenBucket(rate: rate, burst: burst, now: tick)
                        }
                        let taken = bucket!.take(limit, now: tick)
                        return (taken, now + bucket!.nextToken(now: tick) - tick)
                    }
                    if taken == 0 {
                        await sleep(until: next, now: now)
                        continue
                    }
                    tokens = taken
                    limit = taken
                } else {
                    bucket.withLock { $0 = nil }
                }
                let chosen = pick(now: now, tick: tick, limit: limit, channelOpenUntil: channelOpenUntil)
                let picks = chosen.rows
                if let tokens, picks.count < tokens {
                    bucket.withLock { $0?.giveBack(tokens - picks.count, now: tick) }
                }
                if picks.isEmpty {
                    // Every entry due now was looked at and held back: wake when the first of them
                    // may go, or for what comes due later, not for them again at once.
                    let next = horizon.withLock { $0.nextWake(after: now) }
                    let until = min(next ?? .max, chosen.blockedUntil ?? .max, channelOpenUntil ?? .max)
                    await sleep(until: until, now: now)
                    continue
                }
                let retry = RetryPolicy(settings?.retry ?? RetryConfig())
                let route = Route(
                    senders: chosen.senders, used: chosen.used, instances: accounts?.instances(chosen.used) ?? [:])
                let claim = Claim(
                    picks: picks, tokens: tokens, used: chosen.used, senders: chosen.senders, now: now, tick: tick)
                // The batch's slot is free again once the plugin has answered; its messages count
                // against the bound until their outcomes are durable.
                let reserved = picks.count
                let release = Release(
                    answered: {
                        self.inFlight.subtract(1, ordering: .acquiringAndReleasing)
                        self.waker.wake()
                    },
                    stored: {
                        self.unrecorded.subtract(reserved, ordering: .acquiringAndReleasing)
                        self.waker.wake()
                    })
                // With the breaker closed and no sender of a tenant's own involved, nothing the next
                // pick decides waits on this claim: it runs in the batch's slot while the loop picks
                // the next batch, so the store takes several claims and outcomes in one transaction.
                if !probing, channelOpenUntil == nil, chosen.used.isEmpty {
                    inFlight.add(1, ordering: .acquiringAndReleasing)
                    unrecorded.add(reserved, ordering: .acquiringAndReleasing)
                    group.addTask {
                        guard let batch = await self.take(claim) else {
                            release.answered()
                            return release.stored()
                        }
                        var route = route
                        route.breakerEpoch = self.breaker.withLock { $0.sent(batch.count) }
                        await self.deliver(batch, retry: retry, route: route, release: release)
                    }
                    continue
                }
                guard let batch = await take(claim) else { continue }
                var handed = route
                handed.breakerEpoch = breaker.withLock { $0.sent(batch.count { chosen.senders[$0.id] == nil }) }
                if !chosen.used.isEmpty {
                    var claimedBy: [String: Int] = [:]
                    for m in batch { if let id = chosen.senders[m.id] { claimedBy[id, default: 0] += 1 } }
                    handed.senderEpochs = gate.withLock { gate in
                        claimedBy.reduce(into: [:]) { epochs, claimed in
                            epochs[claimed.key] = gate.sent(claimed.key, claimed.value)
                        }
                    }
                }
                let sentRoute = handed
                inFlight.add(1, ordering: .acquiringAndReleasing)
                unrecorded.add(reserved, ordering: .acquiringAndReleasing)
                group.addTask { await self.deliver(batch, retry: retry, route: sentRoute, release: release) }
            }
            // Cancelled: the discarding group waits for the batches in flight, which finish and are recorded.
        }
        // What was claimed ahead goes back to the queue (a crash would do the same at the restart).
        let unsent = await prefetch.takeAll(campaign: nil)
        do {
            try await store.release(unsent, to: .scheduled)
        } catch {
            logger.error(
                "cannot give back \(unsent.count) messages claimed ahead; they are due again at the next start")
        }
    }

    /// Learns which lanes the store holds, retrying until it can (the loop's heartbeat goes on).
    private func loadLanes() async {
        while !Task.isCancelled {
            beat()
            do {
                let lanes = try await store.queueLanes(channel: name)
                horizon.withLock { $0.start(lanes: lanes) }
                return
            } catch {
                logger.error("cannot read the queue, will try again: \(error)")
                await waker.wait(upTo: Self.maximumIdle)
            }
        }
    }

    /// Reads from the store the lanes whose horizon runs low; false when a read failed.
    private func refill() async -> Bool {
        let now = clock.nowMilliseconds()
        let reads = horizon.withLock { $0.refills(now: now) }
        var ok = true
        for read in reads {
            do {
                let entries = try await store.queued(
                    channel: name, lane: read.lane, after: read.after, dueBy: read.dueBy, limit: read.limit)
                var next: Int64?
                if entries.count < read.limit {
                    next = try await store.queued(
                        channel: name, lane: read.lane, after: entries.last ?? read.after, dueBy: .max, limit: 1
                    ).first?.dueAt
                }
                horizon.withLock { $0.refilled(read, entries: entries, next: next, now: clock.nowMilliseconds()) }
            } catch {
                horizon.withLock { $0.refillFailed(read, now: now) }
                if ok { logger.error("cannot read the queue, will try again: \(error)") }
                ok = false
            }
        }
        return ok
    }

    /// Chooses the next messages: priorities, fair share, sending windows, tenant, campaign and
    /// sender limits. A message of a tenant with senders on this channel goes through one of
    /// them; any other through the channel's own settings, unless its breaker is open.
    private func pick(now: Int64, tick: Int64, limit: Int, channelOpenUntil: Int64?) -> Pick {
        let current = config.current
        let generation = config.generation
        let rules = self.rules
        return gate.withLock { gate in
            var choices: [String?] = []
            let senders = !gate.isEmpty
            let (rows, blockedUntil) = horizon.withLock { horizon in
                horizon.pick(
                    now: now, limit: limit,
                    weight: { rules.tenants.settings(for: $0, config: current, generation: generation).weight },
                    permit: { lane in
                        var chosen: String?
                        if senders {
                            let own = rules.tenants.settings(for: lane.tenant, config: current, generation: generation)
                            switch gate.choose(among: own.senders, key: lane.tenant, now: now, tick: tick) {
                            case .sender(let id): chosen = id
                            case .notBefore(let time): return .notBefore(time)
                            case .channelDefault: break
                            }
                        }
                        if chosen == nil, let until = channelOpenUntil { return .notBefore(until) }
                        let answer = rules.permit(lane, config: current, generation: generation, now: now, tick: tick)
                        guard answer == .granted else {
                            if let chosen { gate.giveBack(chosen, now: tick) }
                            return answer
                        }
                        choices.append(chosen)
                        return .granted
                    })
            }
            var pick = Pick(rows: rows, blockedUntil: blockedUntil, used: gate.finishPick())
            for (row, choice) in zip(rows, choices) where choice != nil { pick.senders[row.entry.id] = choice }
            return pick
        }
    }

    /// Looks at the senders again when the directory or the config changed.
    private func syncSenders(_ settings: ChannelConfig?) {
        guard let accounts,
            let senders = accounts.sync(
                channel: settings, directory: rules.senders, config: config.current, generation: config.generation)
        else { return }
        let now = clock.nowMilliseconds()
        let tick = Self.monotonicMilliseconds()
        gate.withLock { gate in
            gate.update(senders.map(\.0), breaker: settings?.breaker ?? BreakerConfig(), now: now, tick: tick)
            for (sender, ready) in senders { gate.setReady(sender.id, ready) }
        }
    }

    /// Rows picked for one batch, and what was taken from the limits for them.
    private struct Claim: Sendable {
        var picks: [QueuedRow]
        var tokens: Int?
        var used: [String]
        var senders: [Int64: String]
        var now: Int64
        var tick: Int64
    }

    /// How late a batch may be handed over after its pick took the tokens for it. A claim that
    /// took longer (the store held up) is not sent on those tokens: its messages, still claimed,
    /// are picked again, so batches picked during a stall never go out together after it.
    static let handOffSlack: Int64 = 100

    /// Claims the picked rows; nil when none could be claimed, with what the pick took given back.
    private func take(_ claim: Claim) async -> [ClaimedMessage]? {
        let batch: [ClaimedMessage]
        do {
            batch = try await prefetch.take(claim.picks)
        } catch {
            horizon.withLock { $0.putBack(claim.picks) }
            if claim.tokens != nil { bucket.withLock { $0?.giveBack(claim.picks.count, now: claim.tick) } }
            releaseSenders(claim.used, claimed: [], sent: [], results: [], route: [:], now: claim.now)
            logger.error("cannot claim due messages: \(error)")
            claimFailed.store(true, ordering: .releasing)
            return nil
        }
        if batch.isEmpty {
            releaseSenders(claim.used, claimed: [], sent: [], results: [], route: [:], now: claim.now)
            return nil
        }
        let tick = Self.monotonicMilliseconds()
        if tick - claim.tick > Self.handOffSlack {
            let ids = Set(batch.map(\.id))
            let rows = claim.picks.filter { ids.contains($0.entry.id) }
            // Without a rate anywhere on the way there are no tokens to be late with.
            let config = self.config
            guard
                claim.tokens != nil || !claim.used.isEmpty || rows.contains(where: { rules.isLimited($0.lane, config) })
            else { return batch }
            // Kept claimed for the next pick, which takes tokens again as the limits stand then.
            prefetch.hold(batch)
            horizon.withLock { $0.putBack(rows) }
            for row in rows { rules.giveBack(row.lane, tick: tick) }
            if claim.tokens != nil { bucket.withLock { $0?.giveBack(claim.picks.count, now: tick) } }
            let senders = rows.compactMap { claim.senders[$0.entry.id] }
            gate.withLock { gate in for id in senders { gate.giveBack(id, now: tick) } }
            releaseSenders(claim.used, claimed: [], sent: [], results: [], route: [:], now: claim.now)
            waker.wake()
            return nil
        }
        return batch
    }

    /// The latest time a provider asked to be left alone until (Retry-After on a result that
    /// says the channel is unavailable: a 429, a throughput error, a 503), and what it said.
    static func pause(asked results: some Sequence<PluginResult>, now: Int64) -> (until: Int64, cause: String?)? {
        var latest: (until: Int64, cause: String?)?
        for result in results where result.outcome == .channelUnavailable {
            guard let wait = result.retryAfterMilliseconds, wait > 0 else { continue }
            if now + wait > latest?.until ?? .min { latest = (now + wait, result.detail) }
        }
        return latest
    }

    /// Frees the senders' calls of a batch and feeds their breakers what their messages met:
    /// `claimed` were claimed for the call, `sent` (with `results`) reached the plugin; `epochs`,
    /// each breaker's epoch when the call was made, keep a call made before a breaker opened from
    /// counting as one of its probes.
    private func releaseSenders(
        _ used: [String], claimed: [ClaimedMessage], sent: [ClaimedMessage], results: [PluginResult],
        route: [Int64: String], epochs: [String: Int] = [:], now: Int64
    ) {
        guard !used.isEmpty else { return }
        var counts: [String: (calls: Int, failures: Int, unsent: Int)] = [:]
        var answers: [String: [PluginResult]] = [:]
        for message in claimed { if let id = route[message.id] { counts[id, default: (0, 0, 0)].unsent += 1 } }
        for (message, result) in zip(sent, results) {
            guard let id = route[message.id] else { continue }
            counts[id, default: (0, 0, 0)].calls += 1
            counts[id, default: (0, 0, 0)].unsent -= 1
            if result.outcome == .channelUnavailable { counts[id, default: (0, 0, 0)].failures += 1 }
            answers[id, default: []].append(result)
        }
        let changes = gate.withLock { gate in
            used.compactMap { id -> (String, CircuitBreaker.State, String?)? in
                let c = counts[id] ?? (0, 0, 0)
                let pause = Self.pause(asked: answers[id] ?? [], now: now)
                return gate.finished(
                    id, calls: c.calls, failures: c.failures, unsent: c.unsent, now: now, waitUntil: pause?.until,
                    cause: pause?.cause, epoch: epochs[id]
                ).map { (id, $0, gate.slots[id]?.breaker.reason) }
            }
        }
        for (id, state, reason) in changes { breakerChanged(to: state, now: now, why: reason, sender: id) }
    }

    /// Stops the senders' plugin instances; after `run` has returned.
    public func stopSenders() { accounts?.shutdownAll() }

    /// Each sender's breaker and calls in flight, for sender.get/list and breaker.list.
    public func senderSnapshot() -> [String: (
        state: CircuitBreaker.State, since: Int64, inFlight: Int, ready: Bool, reason: String?
    )] {
        gate.withLock { gate in
            gate.slots.mapValues { ($0.breaker.state, $0.breaker.since, $0.inFlight, $0.ready, $0.breaker.reason) }
        }
    }

    /// Closes a sender's breaker by hand; nil when the sender is not on this channel, else
    /// whether it was not already closed.
    public func resetSenderBreaker(_ id: String) -> Bool? {
        let now = clock.nowMilliseconds()
        let found = gate.withLock { $0.slots[id] != nil }
        guard found else { return nil }
        guard let changed = gate.withLock({ $0.reset(id, now: now) }) else { return false }
        breakerChanged(to: changed, now: now, by: "reset", sender: id)
        waker.wake()
        return true
    }

    /// Drops what the horizon holds of a campaign that was paused or cancelled (its rows have
    /// left the store's queue; a resume queues them again), and returns its messages that were
    /// claimed ahead, for the caller to hold or cancel with the rest.
    public func forget(campaign: String) async -> [ClaimedMessage] {
        horizon.withLock { $0.forget(campaign: campaign) }
        return await prefetch.takeAll(campaign: campaign)
    }

    /// Claims the messages due within the prefetch lead that may go then (active campaign, open
    /// window), while the channel's breaker is closed.
    private func prefetchLoop() async {
        while !Task.isCancelled {
            let now = clock.nowMilliseconds()
            let tick = Self.monotonicMilliseconds()
            let (room, known) = prefetch.room()
            var claim: Task<Void, Never>?
            if room > 0, breaker.withLock({ $0.state == .closed }) {
                let rules = self.rules
                let config = self.config
                let current = config.current
                let prefetch = self.prefetch
                // This channel's senders, and those that cannot send now (taken before the horizon's lock).
                let (senders, stopped) = gate.withLock { gate in
                    (
                        Set(gate.slots.keys),
                        Set(gate.slots.filter { !$0.value.ready || $0.value.breaker.state != .closed }.keys)
                    )
                }
                // A tenant out of tokens would keep what was claimed for it waiting: claim no more
                // ahead for it than its bucket holds.
                var allowance: [String: Int] = [:]
                horizon.withLock { horizon in
                    let found = horizon.upcoming(
                        after: now, through: now + ClaimPrefetch.lead, limit: room, skip: { known.contains($0) }
                    ).filter { row in
                        var campaign: Campaign?
                        if !row.lane.campaign.isEmpty {
                            guard let c = rules.campaigns.campaign(row.lane.campaign), c.state == .active else {
                                return false
                            }
                            campaign = c
                        }
                        let tenant = rules.settings(for: row.lane.tenant, config)
                        // A tenant whose senders here are all stopped waits without a claim.
                        let own = tenant.senders.filter { senders.contains($0) }
                        if !own.isEmpty && own.allSatisfy({ stopped.contains($0) }) { return false }
                        let left =
                            allowance[row.lane.tenant]
                            ?? rules.tenantBuckets.available(
                                row.lane.tenant, rate: tenant.rate, burst: tenant.burst, now: tick)
                        guard left > 0 else { return false }
                        allowance[row.lane.tenant] = left - 1
                        return rules.windowClosedUntil(
                            tenant: tenant, campaign: campaign, zone: row.lane.zone, config: current,
                            now: row.entry.dueAt) == nil
                    }
                    if !found.isEmpty { claim = prefetch.start(found) }
                }
            }
            if let claim {
                await claim.value
                continue
            }
            // Entries already due are the loop's to pick (or held back there): only those due
            // later are worth claiming ahead.
            let next = horizon.withLock { $0.nextWake(after: now) } ?? (now + 1_000)
            let until = next == .min ? now + 5 : max(next - ClaimPrefetch.lead, now + 5)
            await prefetchWaker.wait(upTo: .milliseconds(min(until - now, 1_000)))
        }
    }

    /// Sleeps until `time` (never longer than the idle maximum), or until woken.
    private func sleep(until time: Int64, now: Int64) async {
        // Compared before subtracting: `time` may be Int64.min (a lane to read at once). Going
        // round at once still yields, so a loop that finds work every turn never holds one of
        // the pool's threads (two on two cores) away from the control socket and the signals.
        if time <= now { return await Task.yield() }
        await waker.wait(upTo: min(.milliseconds(time - now), Self.maximumIdle))
    }

    /// Batches in flight now: those being claimed or with the plugin, those whose outcomes are
    /// being stored, and the messages whose outcomes are not yet stored.
    public func batches() -> (calling: Int, recording: Int, unrecorded: Int) {
        (
            inFlight.load(ordering: .relaxed), recording.load(ordering: .relaxed),
            unrecorded.load(ordering: .relaxed)
        )
    }

    /// What a batch gives back: its slot once the plugin answered, its place under the bound
    /// once its outcomes are stored. Each is called exactly once.
    struct Release: Sendable {
        let answered: @Sendable () -> Void
        let stored: @Sendable () -> Void
    }

    /// Messages held in memory that are due at `now` (a lower bound of what the store holds due).
    public func dueHeld(now: Int64) -> Int { horizon.withLock { $0.due(now: now) } }

    /// True when the loop has gone round within `interval` (it wakes at least every second, so a
    /// loop that stops beating is stuck in the store) and no plugin instance of the channel is
    /// stuck: a batch given up at `plugin_timeout` still unanswered a whole `plugin_timeout`
    /// later means the plugin itself hangs, and only a restart frees it.
    public func isAlive(within interval: Duration) -> Bool {
        guard Self.monotonicMilliseconds() - lastBeat.load(ordering: .relaxed) <= interval.milliseconds else {
            return false
        }
        return stuckPlugin() == nil
    }

    /// The instance (the channel's own, or a sender's) stuck longer than `plugin_timeout`, if any.
    public func stuckPlugin() -> String? {
        let timeout =
            config.current.channel(named: name)?.pluginTimeout ?? ChannelConfig(name: "", plugin: "").pluginTimeout
        if let stuck = plugin.unansweredFor(), stuck > timeout { return name }
        for instance in accounts?.all() ?? [] {
            if let stuck = instance.unansweredFor(), stuck > timeout { return "\(name) (a sender's instance)" }
        }
        return nil
    }

    /// Failed and dead messages are worth a log line each, with fields to find them by.
    private func logRefusals(_ batch: [ClaimedMessage], _ outcomes: [DeliveryOutcome]) {
        for (message, outcome) in zip(batch, outcomes) {
            let event: String
            switch outcome.kind {
            case .failed: event = JournalField.messageFailed
            case .dead: event = JournalField.messageDead
            default: continue
            }
            logger.notice(
                "message \(message.id) \(outcome.word): \(outcome.detail ?? "no detail")",
                metadata: [
                    "message.id": "\(message.id)", "tenant.id": "\(message.tenant)", "event.id": "\(event)",
                ])
        }
    }

    /// The breaker's state and counts now, for breaker.list and channel.list.
    public func breakerSnapshot() -> (
        state: CircuitBreaker.State, since: Int64, calls: Int, failures: Int, reason: String?
    ) {
        breaker.withLock { ($0.state, $0.since, $0.calls, $0.failures, $0.reason) }
    }

    /// Closes the breaker by hand; true when it was not already closed.
    public func resetBreaker() -> Bool {
        let now = clock.nowMilliseconds()
        guard let changed = breaker.withLock({ $0.reset(now: now) }) else { return false }
        breakerChanged(to: changed, now: now, by: "reset")
        waker.wake()
        return true
    }

    /// Logs a breaker's change, counts it and tells subscribers; `cause` (a reset) goes into the
    /// event's detail, `why` (what opened it) only into the log, so the event keeps its words.
    private func breakerChanged(
        to state: CircuitBreaker.State, now: Int64, by cause: String? = nil, why: String? = nil, sender: String? = nil
    ) {
        let reason = cause.map { " (\($0))" } ?? ""
        let whose = sender.map { "sender \($0) " } ?? ""
        if case .open(let until) = state {
            let because = why.map { " (\($0))" } ?? reason
            logger.warning(
                "\(whose)breaker open\(because): \(sender == nil ? "channel" : "sender") unavailable; sending paused until \(Timestamp.format(until))"
            )
        } else {
            logger.notice("\(whose)breaker \(state)\(reason)")
        }
        metrics.recordBreaker(channel: sender.map { "\(name)/\($0)" } ?? name, state: state)
        var detail = state.description + reason
        if let sender { detail = "sender \(sender): " + detail }
        events.publish([LeaddEvent(type: "breaker", at: now, channel: name, detail: detail)])
    }

    private func beat() { lastBeat.store(Self.monotonicMilliseconds(), ordering: .relaxed) }

    static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Where a batch's messages go: the sender of each (absent: the channel's own instance).
    struct Route: Sendable {
        var senders: [Int64: String] = [:]
        var used: [String] = []
        var instances: [String: PluginInstance] = [:]
        /// The channel breaker's epoch when the batch was handed over.
        var breakerEpoch: Int?
        /// Each sender breaker's epoch when the batch was handed over.
        var senderEpochs: [String: Int] = [:]
    }

    /// Hands each message to its sender's instance (or the channel's), the groups side by side.
    private func send(_ batch: [ClaimedMessage], _ outbound: [OutboundMessage], route: Route) async -> [PluginResult] {
        let deadline =
            config.current.channel(named: name)?.pluginTimeout
            ?? ChannelConfig(name: "", plugin: "")
            .pluginTimeout
        if route.senders.isEmpty { return await plugin.send(outbound, deadline: deadline) }
        var groups: [String: [Int]] = [:]
        for (index, message) in batch.enumerated() {
            groups[route.senders[message.id] ?? "", default: []].append(index)
        }
        var results = [PluginResult](repeating: .retry("not sent"), count: batch.count)
        await withTaskGroup(of: ([Int], [PluginResult]).self) { group in
            for (sender, indices) in groups {
                let instance = sender.isEmpty ? plugin : route.instances[sender]
                let messages = indices.map { outbound[$0] }
                group.addTask {
                    guard let instance else {
                        let missing = PluginResult(
                            outcome: .channelUnavailable, detail: "sender \(sender) has no running plugin instance")
                        return (indices, Array(repeating: missing, count: indices.count))
                    }
                    return (indices, await instance.send(messages, deadline: deadline))
                }
            }
            for await (indices, answers) in group {
                for (index, answer) in zip(indices, answers) { results[index] = answer }
            }
        }
        return results
    }

    private func deliver(_ claimed: [ClaimedMessage], retry: RetryPolicy, route: Route, release: Release) async {
        // A message whose window closed between the check and the claim waits for the next opening.
        let current = config.current
        let checkedAt = clock.nowMilliseconds()
        var batch: [ClaimedMessage] = []
        var outside: [DeliveryOutcome] = []
        for message in claimed {
            let tenant = rules.settings(for: message.tenant, config)
            let campaign = message.campaign.flatMap { rules.campaigns.campaign($0) }
            if rules.suppressions.contains(tenant: message.tenant, address: message.to) {
                // The lead opted out after the message was queued: it is not sent, ever.
                outside.append(
                    DeliveryOutcome(
                        id: message.id, channel: name, kind: .cancelled, at: checkedAt, word: "suppressed",
                        detail: "\(message.to) is on the tenant's suppression list"))
            } else if let opening = rules.windowClosedUntil(
                tenant: tenant, campaign: campaign, zone: message.timeZone ?? "", config: current, now: checkedAt)
            {
                let window = campaign?.schedule ?? tenant.schedule ?? ""
                outside.append(
                    DeliveryOutcome(
                        id: message.id, channel: name, kind: .deferred(at: opening), at: checkedAt, word: "deferred",
                        detail: "outside sending window \(window)"))
            } else {
                batch.append(message)
            }
        }
        // Probes held back here never reach the plugin: the breaker is told, or it would wait for
        // their answers for ever (half-open with every probe out).
        let ownHeldBack = claimed.count { route.senders[$0.id] == nil } - batch.count { route.senders[$0.id] == nil }
        if ownHeldBack > 0 { breaker.withLock { $0.unsent(ownHeldBack, epoch: route.breakerEpoch) } }
        if batch.isEmpty {
            // Nothing reaches the plugin: nothing here can go out twice.
            release.answered()
            release.stored()
            releaseSenders(
                route.used, claimed: claimed, sent: [], results: [], route: route.senders, epochs: route.senderEpochs,
                now: checkedAt)
            await recordDurably(outside)
            return
        }
        let outbound = batch.map {
            OutboundMessage(
                id: String($0.id), idempotencyKey: $0.idempotencyKey, tenant: $0.tenant, to: $0.to,
                contentJSON: $0.contentJSON, dueAtMilliseconds: $0.dueAt, attempt: UInt32($0.attemptCount + 1))
        }
        let handedOver = clock.nowMilliseconds()
        let started = ContinuousClock.now
        let results = await send(batch, outbound, route: route)
        recording.add(1, ordering: .relaxed)
        release.answered()
        defer {
            recording.subtract(1, ordering: .relaxed)
            release.stored()
        }
        let sendDuration = ContinuousClock.now - started
        let now = clock.nowMilliseconds()
        let outcomes = zip(batch, results).map { message, result in
            var outcome = retry.outcome(for: result, of: message, now: now)
            outcome.sender = route.senders[message.id]
            return outcome
        }
        // The channel's breaker hears only of sends on its own settings; each sender's of its own.
        let own = zip(batch, results).filter { route.senders[$0.0.id] == nil }.map(\.1)
        let unavailable = own.filter { $0.outcome == .channelUnavailable }.count
        let pause = Self.pause(asked: own, now: now)
        let changed = breaker.withLock {
            $0.record(
                calls: own.count, failures: unavailable, now: now, waitUntil: pause?.until, cause: pause?.cause,
                epoch: route.breakerEpoch)
        }
        if let changed { breakerChanged(to: changed, now: now, why: breaker.withLock { $0.reason }) }
        releaseSenders(
            route.used, claimed: claimed, sent: batch, results: results, route: route.senders,
            epochs: route.senderEpochs, now: now)
        // Fallback messages are stored before the failures are recorded, so a crash between the
        // two sends the failed message again rather than losing its fallback.
        await enqueueFallbacks(batch, outcomes, now: now)
        await recordDurably(outside + outcomes)
        logRefusals(batch, outcomes)
        metrics.recordBatch(
            channel: name, outcomes: outcomes, sendDuration: sendDuration, lateness: batch.map { handedOver - $0.dueAt }
        )
        if events.hasSubscribers {
            events.publish(
                zip(batch, outcomes).map { message, outcome in
                    LeaddEvent(
                        type: LeaddEvent.type(for: outcome.word), at: outcome.at, channel: name, tenant: message.tenant,
                        messageID: message.id, detail: outcome.detail)
                })
        }
    }

    private func enqueueFallbacks(_ batch: [ClaimedMessage], _ outcomes: [DeliveryOutcome], now: Int64) async {
        guard let addressKind else { return }
        let failed = zip(batch, outcomes).filter { $0.1.kind == .failed }.map(\.0)
        guard !failed.isEmpty else { return }
        let fallbacks = await Fallback(rules: rules, store: store, addressKind: addressKind).messages(
            for: failed, now: now)
        _ = await storeFallbacks(Array(fallbacks.values), now: now)
    }

    private func storeFallbacks(_ fallbacks: [NewMessage], now: Int64) async -> Bool {
        guard !fallbacks.isEmpty else { return true }
        do {
            _ = try await store.enqueue(fallbacks, now: now)
            for m in fallbacks { logger.notice("message for \(m.to) falls back to channel \(m.channel)") }
            return true
        } catch {
            logger.error("cannot store \(fallbacks.count) fallback messages: \(error)")
            return false
        }
    }

    /// The channel has been down longer than `breaker.fallback_after`: campaign messages due now
    /// whose step has a fallback channel go there (the original is cancelled as `rerouted`);
    /// the others picked with them go back to wait for the breaker, without using up a try.
    /// Returns false when there was nothing to reroute.
    private func reroute(now: Int64, until: Int64, limit: Int) async -> Bool {
        guard let addressKind else { return false }
        let fallback = Fallback(rules: rules, store: store, addressKind: addressKind)
        let rules = self.rules
        let picks = horizon.withLock { horizon in
            horizon.pick(
                now: now, limit: limit, weight: { _ in 1 },
                permit: { lane in
                    guard let campaign = rules.campaigns.campaign(lane.campaign), campaign.state == .active,
                        campaign.steps.contains(where: { $0.fallback != nil })
                    else { return .notBefore(until) }
                    return .granted
                }
            ).picks
        }
        guard !picks.isEmpty else { return false }
        let claimed: [ClaimedMessage]
        do {
            claimed = try await prefetch.take(picks)
        } catch {
            horizon.withLock { $0.putBack(picks) }
            logger.error("cannot claim messages to reroute: \(error)")
            return false
        }
        let fallbacks = await fallback.messages(for: claimed, now: now)
        let stored = await storeFallbacks(Array(fallbacks.values), now: now)
        let outcomes = claimed.map { message -> DeliveryOutcome in
            if stored, let to = fallbacks[message.id] {
                return DeliveryOutcome(
                    id: message.id, channel: name, kind: .cancelled, at: now, word: "rerouted",
                    detail: "channel \(name) down; sent on \(to.channel) instead")
            }
            return DeliveryOutcome(
                id: message.id, channel: name, kind: .deferred(at: until), at: now, word: "deferred",
                detail: "channel \(name) unavailable")
        }
        await recordDurably(outcomes)
        return true
    }

    /// The outcomes must reach the store: a failing disk is retried rather than forgotten (and a
    /// restart would make these messages due again in any case).
    private func recordDurably(_ outcomes: [DeliveryOutcome]) async {
        var delay: Duration = .milliseconds(100)
        while true {
            do {
                try await store.record(outcomes)
                return
            } catch {
                logger.error("cannot record \(outcomes.count) outcomes, will try again: \(error)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
                if Task.isCancelled && delay >= .seconds(5) { return }
            }
        }
    }
}
