import Foundation
public import Logging
import Metrics
import NIOCore
public import SIP
public import SIPTransport
public import Storage
import UnifiedMessaging

/// Sends requests and reports where from: the SIP endpoint, or a fake in unit tests.
public protocol NotifyTransport: Sendable {
    func send(_ request: SIPMessage, to peer: SIPPeer) async throws(SIPTransportError) -> SIPMessage
    /// The same without waiting: `completion` gets the final response or the error (for
    /// thousands of NOTIFYs in flight without a task each).
    func start(_ request: SIPMessage, to peer: SIPPeer, completion: @escaping @Sendable (Result<SIPMessage, SIPTransportError>) -> Void)
    func sentBy(_ transport: SIPTransportKind) async -> (host: String, port: Int)
}

extension NotifyTransport {
    public func start(_ request: SIPMessage, to peer: SIPPeer,
                      completion: @escaping @Sendable (Result<SIPMessage, SIPTransportError>) -> Void) {
        Task {
            do throws(SIPTransportError) {
                completion(.success(try await send(request, to: peer)))
            } catch {
                completion(.failure(error))
            }
        }
    }
}

extension SIPEndpoint: NotifyTransport {
    public func send(_ request: SIPMessage, to peer: SIPPeer) async throws(SIPTransportError) -> SIPMessage {
        try await send(request, to: peer, timers: nil)
    }

    public func start(_ request: SIPMessage, to peer: SIPPeer,
                      completion: @escaping @Sendable (Result<SIPMessage, SIPTransportError>) -> Void) {
        send(request, to: peer, timers: nil, completion: completion)
    }
}

/// The mailbox assistant's delivery side (SPEC §2.2–2.5): after a state change is
/// committed, it sends the mailbox's newest state to the first gateway that takes it,
/// in priority order, answering a digest challenge once, and tries again with backoff
/// until the retry window is spent. One delivery per mailbox at a time; changes that
/// arrive meanwhile, or within `notifyInterval` of the last NOTIFY, are coalesced into
/// one NOTIFY of the newest state. What was acknowledged and every attempt are stored;
/// failures and recoveries go to the event log. Subscribers of the mailbox are told in
/// the same pass (one pipeline).
///
/// Deliveries run in batches: the mailboxes due are read in one storage read, their
/// NOTIFYs go out concurrently, and what they did is kept in one storage write. Live
/// changes go before refreshes (forced, periodic, or a gateway back up), so a refresh of
/// every lamp never delays a deposit's.
public actor MWIDispatcher {
    /// Live changes (deposits, reads, switches) are delivered before refreshes.
    public enum Priority: Sendable { case live, refresh }

    private let storage: any Storage
    private let transport: any NotifyTransport
    private let settings: MWISettings
    private let logger: Logger
    private let clock = ContinuousClock()
    private let epoch = ContinuousClock.now
    private var health: GatewayHealth?
    private var subscriptions: SubscriptionServer?
    /// Gateways that answered 489 Bad Event: they want subscriptions, not unsolicited NOTIFYs.
    private var refusesUnsolicited: Set<String> = []

    // MARK: Scheduling state (times in nanoseconds since `epoch`)

    private struct Waiting {
        var due: Int64
        var live: Bool
    }

    /// Mailboxes waiting for their interval, a backoff or a free slot; the same in two
    /// sorted queues, live and refresh (an entry that no longer matches is stale).
    private var scheduled: [String: Waiting] = [:]
    private var liveQueue = TimerQueue<String>()
    private var refreshQueue = TimerQueue<String>()
    /// Mailboxes with a delivery running.
    private var inFlight: Set<String> = []
    /// Mailboxes that changed while their delivery ran (and whether live): delivered again after it.
    private var changedAgain: [String: Bool] = [:]
    /// When each mailbox may next get a NOTIFY, and the same in the order they pass (the
    /// interval is the same for all, so that is the order they were set in): forgotten
    /// once passed, in constant time per mailbox.
    private var notBefore: [String: Int64] = [:]
    private var notBeforeOrder = CircularBuffer<(mailbox: String, until: Int64)>()
    /// Mailboxes whose delivery failed: since when, and the next backoff.
    private var retrying: [String: (since: Int64, backoff: Duration)] = [:]
    /// Since when each mailbox's state has waited for delivery (the delivery duration).
    private var pendingSince: [String: Int64] = [:]
    private var waker: Task<Void, Never>?
    private var wakerAt: Int64?
    private var stopped = false
    private var sentBy: [SIPTransportKind: (host: String, port: Int)] = [:]

    private let pendingGauge = Gauge(label: "mwid_mwi_pending_deliveries")
    private let latency = Metrics.Timer(label: "mwid_mwi_delivery_duration")
    private var counters: [String: Counter] = [:]

    public init(storage: any Storage, transport: any NotifyTransport, settings: MWISettings = MWISettings(),
                logger: Logger = Logger(label: "mwid.mwi")) {
        self.storage = storage
        self.transport = transport
        self.settings = settings
        self.logger = logger
    }

    /// Gateways known down are tried last (after the ones up) instead of first.
    public func use(_ health: GatewayHealth) { self.health = health }

    /// Subscribers are told of each state the dispatcher reads, in the same pass as the
    /// gateways (one pipeline, one coalescing).
    public func use(_ subscriptions: SubscriptionServer) { self.subscriptions = subscriptions }

    /// A mailbox's state changed (committed): deliver it. Safe from any context.
    public nonisolated func stateChanged(mailbox: String) {
        if changes.post(Change(mailbox: mailbox, live: true)) { Task { await self.collect() } }
    }

    /// Many mailboxes to deliver (a forced refresh, a gateway back up), in one hop.
    public nonisolated func stateChanged(mailboxes: [String], priority: Priority) {
        guard !mailboxes.isEmpty else { return }
        let live = priority == .live
        if changes.post(mailboxes.lazy.map { Change(mailbox: $0, live: live) }) { Task { await self.collect() } }
    }

    /// A committed change told from any thread, waiting in `changes` to be taken in.
    private struct Change: Sendable {
        var mailbox: String
        var live: Bool
    }

    private nonisolated let changes = Inbox<Change>()

    /// Takes in the changes told so far and starts what is due.
    private func collect() {
        var live: [String] = [], refresh: [String] = []
        for change in changes.take() {
            if change.live { live.append(change.mailbox) } else { refresh.append(change.mailbox) }
        }
        if !refresh.isEmpty { enqueue(refresh, live: false, start: false) }
        if !live.isEmpty { enqueue(live, live: true, start: false) }
        guard !stopped else { return }
        startDue()
    }

    /// Picks up every delivery left pending (after a restart or a crash).
    public func resume() async {
        do {
            let pending = try await storage.pendingDeliveries(limit: 10_000_000)
            if !pending.isEmpty { logger.info("resuming \(pending.count) pending MWI deliveries") }
            enqueue(pending, live: true)
        } catch {
            logger.error("cannot read pending MWI deliveries: \(error)")
        }
    }

    /// Stops delivering; what was delivered is recorded first.
    public func stop() async {
        stopped = true
        waker?.cancel()
        waker = nil
        recording?.cancel()
        recording = nil
        if !unrecorded.isEmpty { await flushRecords() }
    }

    /// How many deliveries are running and waiting (for tests and metrics).
    public func backlog() -> (running: Int, waiting: Int) { (inFlight.count, scheduled.count) }

    // MARK: Scheduling

    /// Nanoseconds since `epoch`: the scheduler's time.
    private func now() -> Int64 { Self.nanoseconds(clock.now - epoch) }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let c = duration.components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }

    func enqueue(_ mailboxes: [String], live: Bool, after delay: Duration? = nil, start: Bool = true) {
        guard !stopped else { return }
        let now = now()
        let wanted = now + (delay.map(Self.nanoseconds) ?? 0)
        for mailbox in mailboxes {
            if inFlight.contains(mailbox) {
                changedAgain[mailbox] = live || (changedAgain[mailbox] ?? false)
                continue
            }
            let due = max(wanted, notBefore[mailbox] ?? now)
            let waiting = scheduled[mailbox]
            if let waiting, waiting.due <= due, waiting.live || !live { continue }  // already sooner and as urgent
            let next = Waiting(due: min(due, waiting?.due ?? .max), live: live || (waiting?.live ?? false))
            scheduled[mailbox] = next
            if next.live { liveQueue.schedule(mailbox, at: next.due) } else { refreshQueue.schedule(mailbox, at: next.due) }
            if pendingSince[mailbox] == nil { pendingSince[mailbox] = now }
        }
        if liveQueue.count + refreshQueue.count > 2 * scheduled.count + 1024 {
            let scheduled = self.scheduled
            liveQueue.compact { entry in scheduled[entry.id].map { !$0.live || $0.due != entry.deadline } ?? true }
            refreshQueue.compact { entry in scheduled[entry.id].map { $0.live || $0.due != entry.deadline } ?? true }
        }
        if start { startDue() }
        pendingGauge.record(inFlight.count + scheduled.count)
    }

    /// Starts the deliveries that are due and fit in the concurrency budget — live ones
    /// first, then refreshes, earliest first — in batches, and sleeps until the next one
    /// is due (one wake-up for all mailboxes).
    private func startDue() {
        let now = now()
        var batch: [String] = []
        while inFlight.count < settings.concurrency {
            let live: Bool
            let entry: TimerQueue<String>.Entry
            if let first = liveQueue.popFirst(dueAt: now) {
                (entry, live) = (first, true)
            } else if let first = refreshQueue.popFirst(dueAt: now) {
                (entry, live) = (first, false)
            } else {
                break
            }
            guard let waiting = scheduled[entry.id], waiting.due == entry.deadline, waiting.live == live else { continue }  // stale
            scheduled[entry.id] = nil
            inFlight.insert(entry.id)
            batch.append(entry.id)
            if batch.count == settings.batchSize {
                launch(batch)
                batch = []
            }
        }
        if !batch.isEmpty { launch(batch) }
        // Due but no free slot: the next delivery to finish starts it, no polling.
        let next = [liveQueue.earliest, refreshQueue.earliest].compactMap { $0 }.min()
        guard inFlight.count < settings.concurrency, let next else {
            waker?.cancel()
            waker = nil
            wakerAt = nil
            return
        }
        if let wakerAt, wakerAt <= next, waker != nil { return }
        waker?.cancel()
        wakerAt = next
        let wait = Duration.nanoseconds(max(next - now, 1_000_000))
        waker = Task { [clock] in
            try? await clock.sleep(for: wait)
            guard !Task.isCancelled else { return }
            self.wake()
        }
    }

    private func wake() {
        waker = nil
        wakerAt = nil
        startDue()
    }

    private func launch(_ batch: [String]) {
        Task { await self.run(batch) }
    }

    // MARK: Delivery

    /// What one mailbox's delivery is to do: the NOTIFY's inputs and the gateways to try
    /// in order. A value, so that it can be carried out outside the actor.
    struct Plan: Sendable {
        var context: DeliveryContext
        var gateways: [IPGateway]
        var state: MessageWaitingState
        /// The last "no" of a switch-off: tried once, never retried.
        var finalNo: Bool
        var sentBy: [SIPTransportKind: SentBy]
    }

    struct SentBy: Sendable {
        var host: String
        var port: Int
    }

    /// What carrying out a plan did.
    struct Result: Sendable {
        var plan: Plan
        var attempts: [DeliveryAttempt]
        var delivered: Bool
        /// Gateways that answered 489, and those that failed with a transport error.
        var refusedUnsolicited: [String]
        var unreachable: [String]
    }

    /// Delivers one batch: one read, then the NOTIFYs concurrently, each delivery concluded
    /// as soon as it is settled.
    private func run(_ batch: [String]) async {
        let contexts: [String: DeliveryContext]
        do {
            contexts = try await storage.deliveryContexts(mailboxes: batch)
        } catch {
            // Fail safe: without the stored state nothing is sent.
            logger.error("cannot read the MWI state", metadata: ["mailboxes": "\(batch.count)", "error": "\(error)"])
            finish(batch.map { ($0, nil, false) })
            return
        }
        var subscribed: [String: (live: Int, started: Int)] = [:]
        if let subscriptions, subscriptions.hasSubscriptions { subscribed = await subscriptions.deliver(Array(contexts.values)) }
        let down = health?.downGateways() ?? []
        var plans: [Plan] = []
        var finished: [(String, Int64?, Bool)] = []  // mailbox, NOTIFY sent at, failed
        let readAt = now()
        for mailbox in batch {
            guard let context = contexts[mailbox] else {
                await subscriptions?.mailboxRemoved(mailbox)  // the mailbox was removed
                finished.append((mailbox, nil, false))
                continue
            }
            let told = subscribed[mailbox]
            let sent: Int64? = (told?.started ?? 0) > 0 ? readAt : nil
            // A dial plan may let live subscriptions alone carry the lamp.
            if let told, told.live > 0, !context.dialPlan.unsolicitedNotifyWhenSubscribed {
                finished.append((mailbox, sent, false))
                continue
            }
            guard context.isPending else {
                finished.append((mailbox, sent, false))
                continue
            }
            let decision = context.decision
            if decision.enabled {
                plans.append(Plan(context: context, gateways: ordered(decision.gateways, down: down), state: context.state,
                                  finalNo: false, sentBy: [:]))
            } else if let acknowledged = context.acknowledged, acknowledged.state.messagesWaiting,
                      let gateway = Self.finalNoGateway(context, lastAcknowledgedBy: acknowledged.gateway) {
                // SPEC §2.2: a lamp left lit when MWI is switched off gets one last "no", then silence.
                plans.append(Plan(context: context, gateways: [gateway], state: MessageWaitingState(), finalNo: true, sentBy: [:]))
            } else {
                finished.append((mailbox, sent, false))
            }
        }
        for kind in Set(plans.flatMap { plan in plan.gateways.map { MWINotify.transport(for: $0, dialPlan: plan.context.dialPlan) } })
        where sentBy[kind] == nil {
            sentBy[kind] = await transport.sentBy(kind)
        }
        let known = sentBy.mapValues { SentBy(host: $0.host, port: $0.port) }
        // Those with nothing to send give their places back now.
        if !finished.isEmpty { finish(finished) }
        // Each delivery is concluded, and its place given back, as soon as it is settled:
        // one slow answer (a datagram lost, waiting for T1) holds its own place, not its
        // batch's.
        Self.start(plans.map { plan in
            var plan = plan
            plan.sentBy = known
            return plan
        }, transport: transport) { result in self.settled(Settled(result: result, readAt: readAt)) }
    }

    /// A delivery carried out, and when its mailbox's state was read.
    private struct Settled: Sendable {
        var result: Result
        var readAt: Int64
    }

    /// Deliveries settled on the transport's threads, waiting to be concluded in the actor.
    private nonisolated let settledDeliveries = Inbox<Settled>()

    private nonisolated func settled(_ delivery: Settled) {
        if settledDeliveries.post(delivery) { Task { await self.conclude(self.settledDeliveries.take()) } }
    }

    /// Records what deliveries did (written together every `recordInterval`) and gives
    /// their places back.
    private func conclude(_ settled: [Settled]) async {
        record(settled.map { delivery in
            let result = delivery.result
            return DeliveryOutcome(mailbox: result.plan.context.mailbox.identity, attempts: result.attempts,
                                   acknowledged: result.delivered ? result.attempts.last.map {
                                       AcknowledgedState(version: result.plan.context.version, state: result.plan.state,
                                                         gateway: $0.gateway, at: $0.at)
                                   } : nil)
        })
        var finished: [(String, Int64?, Bool)] = []
        for delivery in settled {
            let result = delivery.result
            let name = result.plan.context.mailbox.identity
            for attempt in result.attempts { counter(attempt.gateway, Self.resultClass(attempt.response)).increment() }
            for gateway in result.refusedUnsolicited where refusesUnsolicited.insert(gateway).inserted {
                try? await storage.log(.warning, kind: "mwi.bad-event", subject: gateway,
                                       message: "IP gateway \(gateway) refuses unsolicited NOTIFYs (489 Bad Event): it wants subscriptions")
            }
            for gateway in result.unreachable { await health?.deliveryFailed(gateway) }
            for attempt in result.attempts where !attempt.delivered {
                logger.warning("NOTIFY not delivered", metadata: ["mailbox": "\(name)", "gateway": "\(attempt.gateway)",
                                                                  "cause": "\(attempt.response)"])
            }
            if result.delivered, let since = pendingSince[name] {
                latency.recordNanoseconds(now() - since)
            }
            let wantsSubscriptions = result.plan.gateways.allSatisfy { refusesUnsolicited.contains($0.name) }
            let failed = !result.delivered && !result.plan.finalNo && !wantsSubscriptions
            finished.append((name, result.attempts.isEmpty ? nil : delivery.readAt, failed))
            if failed { await retryOrGiveUp(result.plan) }
        }
        finish(finished)
    }

    /// A failed delivery is tried again after a backoff (1 s doubling to 30 s) until the
    /// retry window is spent; then an `mwi.failed` event, and the state stays pending for
    /// the next refresh.
    private func retryOrGiveUp(_ plan: Plan) async {
        let mailbox = plan.context.mailbox.identity
        let now = now()
        let since = retrying[mailbox]?.since ?? pendingSince[mailbox] ?? now
        let backoff = retrying[mailbox]?.backoff ?? settings.retryBackoff
        guard now - since < Self.nanoseconds(settings.retryWindow) else {
            retrying[mailbox] = nil
            pendingSince[mailbox] = nil
            let message = "no gateway of dial plan \(plan.context.dialPlan.name) took the MWI state \(plan.state) of \(mailbox) within \(settings.retryWindow); it stays pending for the next refresh"
            logger.error("MWI delivery failed", metadata: ["mailbox": "\(mailbox)", "dialPlan": "\(plan.context.dialPlan.name)"])
            try? await storage.log(.error, kind: "mwi.failed", subject: mailbox, message: message)
            return
        }
        retrying[mailbox] = (since, min(backoff * 2, settings.maximumRetryBackoff))
        // Enqueued once the delivery is finished (below): `inFlight` still holds it.
        pendingRetries[mailbox] = backoff
    }

    private var pendingRetries: [String: Duration] = [:]

    /// The deliveries are over: the interval starts for those that sent, retries and
    /// changes that came meanwhile are queued, and free slots are filled.
    private func finish(_ done: [(mailbox: String, sentAt: Int64?, failed: Bool)]) {
        for (mailbox, sentAt, failed) in done {
            inFlight.remove(mailbox)
            if let sentAt, settings.notifyInterval > .zero {
                let until = sentAt + Self.nanoseconds(settings.notifyInterval)
                notBefore[mailbox] = until
                notBeforeOrder.append((mailbox, until))
            }
            if !failed {
                retrying[mailbox] = nil
                pendingSince[mailbox] = nil
            }
            if let backoff = pendingRetries.removeValue(forKey: mailbox) {
                enqueue([mailbox], live: true, after: backoff, start: false)
            }
            if let live = changedAgain.removeValue(forKey: mailbox) { enqueue([mailbox], live: live, start: false) }
        }
        let now = now()
        while let first = notBeforeOrder.first, first.until <= now {
            notBeforeOrder.removeFirst()
            if notBefore[first.mailbox] == first.until { notBefore[first.mailbox] = nil }
        }
        startDue()
        pendingGauge.record(inFlight.count + scheduled.count)
    }

    /// Outcomes not yet in storage, written together every `recordInterval`: losing them
    /// in a crash only means a lamp is told again after the restart.
    private var unrecorded: [DeliveryOutcome] = []
    private var recording: Task<Void, Never>?

    private func record(_ outcomes: [DeliveryOutcome]) {
        unrecorded += outcomes
        guard recording == nil, !unrecorded.isEmpty else { return }
        let interval = settings.recordInterval
        recording = Task {
            try? await Task.sleep(for: interval)
            await self.flushRecords()
        }
    }

    private func flushRecords() async {
        let outcomes = unrecorded
        unrecorded = []
        do {
            try await storage.recordDeliveries(outcomes)
        } catch {
            logger.error("cannot record MWI deliveries", metadata: ["mailboxes": "\(outcomes.count)", "error": "\(error)"])
        }
        recording = nil
        if !unrecorded.isEmpty { record([]) }
    }

    private func counter(_ gateway: String, _ result: String) -> Counter {
        let key = gateway + "\u{0}" + result
        if let known = counters[key] { return known }
        let made = Counter(label: "mwid_mwi_notifies_total", dimensions: [("gateway", gateway), ("result", result)])
        counters[key] = made
        return made
    }

    /// The gateways in priority order, those known down moved after the others: a dead
    /// gateway does not cost every NOTIFY a timeout, and is still tried when nothing else works.
    private func ordered(_ gateways: [IPGateway], down: Set<String>) -> [IPGateway] {
        var up: [IPGateway] = [], later: [IPGateway] = []
        for gateway in gateways {
            let wantsSubscriptions = refusesUnsolicited.contains(gateway.name)
            let isDown = down.contains(gateway.name)
            if wantsSubscriptions && isDown { continue }
            if wantsSubscriptions || isDown { later.append(gateway) } else { up.append(gateway) }
        }
        return up + later
    }

    /// Where the last "no" goes: the gateway that acknowledged the lit lamp if it is still
    /// in service for the dial plan, else the first one in service.
    static func finalNoGateway(_ context: DeliveryContext, lastAcknowledgedBy name: String) -> IPGateway? {
        let inService = context.gateways.filter { $0.status == .enabled }
            .sorted { ($0.priority, $0.name) < ($1.priority, $1.name) }
        return inService.first { $0.name == name } ?? inService.first
    }

    typealias Outcome = Swift.Result<SIPMessage, SIPTransportError>

    /// Starts a batch of plans: every first NOTIFY at once without a task each (most are
    /// answered 2xx by the first gateway); the few that need more — a digest answer, the
    /// next gateway — go on one task each. Each plan's result goes to `settled` as soon as
    /// it is known, from any thread.
    private static func start(_ plans: [Plan], transport: any NotifyTransport,
                              settled: @escaping @Sendable (Result) -> Void) {
        var rng = BufferedSystemRandom()
        for plan in plans {
            guard let gateway = plan.gateways.first else {
                settled(Result(plan: plan, attempts: [], delivered: false, refusedUnsolicited: [], unreachable: []))
                continue
            }
            let first = notify(plan, gateway: gateway, using: &rng)
            transport.start(first.request, to: first.peer) { outcome in
                let done: Bool = switch outcome {
                case .success(let response): (200..<300).contains(response.statusCode ?? 0)
                    || (plan.gateways.count == 1 && response.statusCode != 401 && response.statusCode != 407)
                case .failure: plan.gateways.count == 1
                }
                if done {
                    var result = Result(plan: plan, attempts: [], delivered: false, refusedUnsolicited: [], unreachable: [])
                    note(outcome, gateway: gateway, kind: first.kind, into: &result)
                    settled(result)
                } else {
                    Task { settled(await carryOut(plan, first: (first.request, outcome), transport: transport)) }
                }
            }
        }
    }

    /// One pass over the plan's gateways in order, stopping at the first that takes it;
    /// `first` is the first gateway's NOTIFY and answer when already sent.
    private static func carryOut(_ plan: Plan, first: (request: SIPMessage, outcome: Outcome)?,
                                 transport: any NotifyTransport) async -> Result {
        var result = Result(plan: plan, attempts: [], delivered: false, refusedUnsolicited: [], unreachable: [])
        var rng = BufferedSystemRandom()
        for (index, gateway) in plan.gateways.enumerated() {
            let made = notify(plan, gateway: gateway, using: &rng)
            var request = index == 0 ? first?.request ?? made.request : made.request
            var outcome: Outcome
            if index == 0, let first { outcome = first.outcome } else { outcome = await send(request, to: made.peer, transport) }
            if case .success(let response) = outcome, response.statusCode == 401 || response.statusCode == 407,
               let answered = answerChallenge(request, response, gateway) {
                request = answered
                outcome = await send(request, to: made.peer, transport)
            }
            note(outcome, gateway: gateway, kind: made.kind, into: &result)
            if result.delivered { break }
        }
        return result
    }

    /// The NOTIFY of a plan for one of its gateways, and where it goes.
    private static func notify(_ plan: Plan, gateway: IPGateway, using rng: inout BufferedSystemRandom)
        -> (request: SIPMessage, peer: SIPPeer, kind: SIPTransportKind)
    {
        let context = plan.context
        let kind = MWINotify.transport(for: gateway, dialPlan: context.dialPlan)
        let local = plan.sentBy[kind] ?? SentBy(host: "127.0.0.1", port: kind.defaultPort)
        let request = MWINotify.request(state: plan.state, mailbox: context.mailbox, dialPlan: context.dialPlan,
                                        gateway: gateway, transport: kind, localHost: local.host, localPort: local.port,
                                        using: &rng)
        let host = gateway.address.hasPrefix("[") ? String(gateway.address.dropFirst().dropLast()) : gateway.address
        return (request, SIPPeer(host: host, port: gateway.port, transport: kind), kind)
    }

    /// What one gateway's answer (or error) means: an attempt, and what to remember of it.
    private static func note(_ outcome: Outcome, gateway: IPGateway, kind: SIPTransportKind, into result: inout Result) {
        let context = result.plan.context
        let attempt: DeliveryAttempt
        switch outcome {
        case .success(let response):
            let code = response.statusCode ?? 0
            let reason = response.reasonPhrase ?? ""
            attempt = DeliveryAttempt(mailbox: context.mailbox.identity, version: context.version, state: result.plan.state,
                                      gateway: gateway.name, transport: kind.rawValue, at: Date(),
                                      response: reason.isEmpty ? "\(code)" : "\(code) \(reason)",
                                      delivered: (200..<300).contains(code))
            if code == 489 { result.refusedUnsolicited.append(gateway.name) }
        case .failure(let error):
            attempt = DeliveryAttempt(mailbox: context.mailbox.identity, version: context.version, state: result.plan.state,
                                      gateway: gateway.name, transport: kind.rawValue, at: Date(), response: "\(error)",
                                      delivered: false)
            result.unreachable.append(gateway.name)
        }
        result.attempts.append(attempt)
        result.delivered = result.delivered || attempt.delivered
    }

    /// The metric's result of an attempt: `2xx` … `6xx` from the status, `timeout`, or
    /// `transport` for any other error.
    static func resultClass(_ response: String) -> String {
        if let first = response.first, first.isASCII, first.isNumber, response.utf8.count >= 3 { return "\(first)xx" }
        return response == "\(SIPTransportError.timeout)" ? "timeout" : "transport"
    }

    private static func send(_ request: SIPMessage, to peer: SIPPeer, _ transport: any NotifyTransport) async
        -> Swift.Result<SIPMessage, SIPTransportError>
    {
        do {
            return .success(try await transport.send(request, to: peer))
        } catch {
            return .failure(error)
        }
    }

    /// The request again with digest credentials for the gateway's challenge, once;
    /// nil when the gateway has no credentials or the challenge cannot be read.
    static func answerChallenge(_ request: SIPMessage, _ response: SIPMessage, _ gateway: IPGateway) -> SIPMessage? {
        guard let username = gateway.username, let password = gateway.password else { return nil }
        let proxy = response.statusCode == 407
        guard let header = (try? proxy ? response.proxyAuthenticate() : response.wwwAuthenticate())?.first,
              let challenge = try? DigestChallenge(header), let uri = request.requestURI else { return nil }
        var rng = SharedSystemRandom()
        let credentials = SIPDigest.answer(challenge, method: .notify, uri: uri.description, username: username,
                                           password: password, cnonce: SIPDigest.makeCNonce(using: &rng))
        var again = request
        again.headers.add(proxy ? .proxyAuthorization : .authorization, credentials.header.description)
        again.headers.set(.cseq, "\((try? request.cseq()?.sequence).flatMap { $0 }.map { $0 + 1 } ?? 2) NOTIFY")
        return again
    }
}
