import Foundation
public import Logging
import Metrics
public import SIP
public import SIPTransport
public import Storage
import UnifiedMessaging

/// Sends requests and reports where from: the SIP endpoint, or a fake in unit tests.
public protocol NotifyTransport: Sendable {
    func send(_ request: SIPMessage, to peer: SIPPeer) async throws(SIPTransportError) -> SIPMessage
    func sentBy(_ transport: SIPTransportKind) async -> (host: String, port: Int)
}

extension SIPEndpoint: NotifyTransport {
    public func send(_ request: SIPMessage, to peer: SIPPeer) async throws(SIPTransportError) -> SIPMessage {
        try await send(request, to: peer, timers: nil)
    }
}

/// The mailbox assistant's delivery side (SPEC §2.2–2.5): after a state change is
/// committed, it sends the mailbox's newest state to the first gateway that takes it,
/// in priority order, answering a digest challenge once, and keeps trying in rounds with
/// backoff until the retry window is spent. One delivery per mailbox at a time; changes
/// that arrive meanwhile, or within `notifyInterval` of the last NOTIFY, are coalesced
/// into one NOTIFY of the newest state. What was acknowledged and every attempt are
/// stored; failures and recoveries go to the event log.
public actor MWIDispatcher {
    private let storage: any Storage
    private let transport: any NotifyTransport
    private let settings: MWISettings
    private let logger: Logger
    private let clock = ContinuousClock()
    private var health: GatewayHealth?
    private var subscriptions: SubscriptionServer?
    /// Gateways that answered 489 Bad Event: they want subscriptions, not unsolicited NOTIFYs.
    private var refusesUnsolicited: Set<String> = []

    /// Mailboxes with a delivery running.
    private var inFlight: Set<String> = []
    /// Mailboxes that changed while their delivery ran: delivered again after it.
    private var changedAgain: Set<String> = []
    /// When each mailbox may next get a NOTIFY (nanoseconds on `clock` since `epoch`).
    private var notBefore: [String: Int64] = [:]
    /// Mailboxes waiting for their interval to pass or for a free slot: when each is due,
    /// and the same in one sorted queue (an entry whose time no longer matches is stale).
    private var scheduled: [String: Int64] = [:]
    private var queue = TimerQueue<String>()
    private var waker: Task<Void, Never>?
    private var wakerAt: Int64?
    private var stopped = false
    private let epoch = ContinuousClock.now

    private let pendingGauge = Gauge(label: "mwid_mwi_pending_deliveries")
    private let latency = Metrics.Timer(label: "mwid_mwi_delivery_duration")

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
        Task { await self.enqueue(mailbox) }
    }

    /// Picks up every delivery left pending (after a restart or a crash).
    public func resume() async {
        do {
            let pending = try await storage.pendingDeliveries(limit: 1_000_000)
            if !pending.isEmpty { logger.info("resuming \(pending.count) pending MWI deliveries") }
            for mailbox in pending { enqueue(mailbox) }
        } catch {
            logger.error("cannot read pending MWI deliveries: \(error)")
        }
    }

    public func stop() {
        stopped = true
        waker?.cancel()
        waker = nil
    }

    /// How many deliveries are running and waiting (for tests and metrics).
    public func backlog() -> (running: Int, waiting: Int) { (inFlight.count, scheduled.count) }

    // MARK: Scheduling

    /// Nanoseconds since `epoch`: the scheduler's time.
    private func now() -> Int64 {
        let elapsed = (clock.now - epoch).components
        return elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let c = duration.components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }

    func enqueue(_ mailbox: String) {
        guard !stopped else { return }
        if inFlight.contains(mailbox) {
            changedAgain.insert(mailbox)
            return
        }
        let now = now()
        let due = max(notBefore[mailbox] ?? now, now)
        if let already = scheduled[mailbox], already <= due { return }
        scheduled[mailbox] = due
        queue.schedule(mailbox, at: due)
        if queue.count > 2 * scheduled.count + 1024 {
            queue.compact { [scheduled] entry in scheduled[entry.id] != entry.deadline }
        }
        startDue()
        pendingGauge.record(inFlight.count + scheduled.count)
    }

    /// Starts every delivery that is due and fits in the concurrency budget, earliest
    /// first, and sleeps until the next one is due (one wake-up for all mailboxes).
    private func startDue() {
        let now = now()
        while inFlight.count < settings.concurrency, let entry = queue.popFirst(dueAt: now) {
            guard scheduled[entry.id] == entry.deadline else { continue }  // superseded
            scheduled[entry.id] = nil
            inFlight.insert(entry.id)
            let mailbox = entry.id
            Task { await self.deliver(mailbox) }
        }
        // Due but no free slot: the next delivery to finish starts it, no polling.
        guard inFlight.count < settings.concurrency, let next = queue.earliest else {
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

    private func finished(_ mailbox: String, sentAt: Int64?) {
        defer { pendingGauge.record(inFlight.count + scheduled.count) }
        inFlight.remove(mailbox)
        if let sentAt { notBefore[mailbox] = sentAt + Self.nanoseconds(settings.notifyInterval) }
        if changedAgain.remove(mailbox) != nil { enqueue(mailbox) } else { startDue() }
        if notBefore.count > 10_000 {
            let now = now()
            notBefore = notBefore.filter { $0.value > now }
        }
    }

    // MARK: Delivery

    /// Delivers the mailbox's newest state; rounds over the gateways until one takes it or
    /// the retry window is spent.
    private func deliver(_ mailbox: String) async {
        let started = clock.now
        var backoff = settings.retryBackoff
        var lastSent: Int64?
        while !stopped {
            let context: DeliveryContext
            do {
                context = try await storage.deliveryContext(mailbox: mailbox)
            } catch let error as DirectoryError where error.code == .notFound {
                await subscriptions?.mailboxRemoved(mailbox)  // the mailbox was removed
                break
            } catch {
                // Fail safe: without the stored state nothing is sent.
                logger.error("cannot read the MWI state", metadata: ["mailbox": "\(mailbox)", "error": "\(error)"])
                break
            }
            if let subscribed = await subscriptions?.deliver(context) {
                if subscribed.started > 0, lastSent == nil { lastSent = now() }
                // A dial plan may let live subscriptions alone carry the lamp.
                if subscribed.live > 0, !context.dialPlan.unsolicitedNotifyWhenSubscribed { break }
            }
            guard context.isPending else { break }
            let decision = context.decision
            guard decision.enabled else {
                // SPEC §2.2: a lamp left lit when MWI is switched off gets one last "no", then silence.
                if let acknowledged = context.acknowledged, acknowledged.state.messagesWaiting,
                   let gateway = Self.finalNoGateway(context, lastAcknowledgedBy: acknowledged.gateway) {
                    lastSent = now()
                    _ = await attemptRound(context, gateways: [gateway], state: MessageWaitingState())
                }
                break
            }
            lastSent = now()
            if await attemptRound(context, gateways: await ordered(decision.gateways), state: context.state) {
                let elapsed = (clock.now - started).components
                latency.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
                break
            }
            if decision.gateways.allSatisfy({ refusesUnsolicited.contains($0.name) }) {
                break  // every gateway wants subscriptions: retrying would only hammer them
            }
            if clock.now - started >= settings.retryWindow {
                let message = "no gateway of dial plan \(context.dialPlan.name) took the MWI state \(context.state) of \(mailbox) within \(settings.retryWindow); it stays pending for the next refresh"
                logger.error("MWI delivery failed", metadata: ["mailbox": "\(mailbox)", "dialPlan": "\(context.dialPlan.name)"])
                try? await storage.log(.error, kind: "mwi.failed", subject: mailbox, message: message)
                break
            }
            try? await clock.sleep(for: backoff)
            backoff = min(backoff * 2, settings.maximumRetryBackoff)
        }
        finished(mailbox, sentAt: lastSent)
    }

    /// The gateways in priority order, those known down moved after the others: a dead
    /// gateway does not cost every NOTIFY a timeout, and is still tried when nothing else works.
    private func ordered(_ gateways: [IPGateway]) async -> [IPGateway] {
        var up: [IPGateway] = [], down: [IPGateway] = []
        for gateway in gateways {
            let wantsSubscriptions = refusesUnsolicited.contains(gateway.name)
            let isDown = await health?.isDown(gateway.name) == true
            if wantsSubscriptions && isDown { continue }
            if wantsSubscriptions || isDown { down.append(gateway) } else { up.append(gateway) }
        }
        return up + down
    }

    /// Where the last "no" goes: the gateway that acknowledged the lit lamp if it is still
    /// in service for the dial plan, else the first one in service.
    static func finalNoGateway(_ context: DeliveryContext, lastAcknowledgedBy name: String) -> IPGateway? {
        let inService = context.gateways.filter { $0.status == .enabled }
            .sorted { ($0.priority, $0.name) < ($1.priority, $1.name) }
        return inService.first { $0.name == name } ?? inService.first
    }

    /// One pass over `gateways` in order with `state`; true when one acknowledged.
    private func attemptRound(_ context: DeliveryContext, gateways: [IPGateway], state: MessageWaitingState) async -> Bool {
        for gateway in gateways {
            let kind = MWINotify.transport(for: gateway, dialPlan: context.dialPlan)
            let (localHost, localPort) = await transport.sentBy(kind)
            var request = MWINotify.request(state: state, mailbox: context.mailbox, dialPlan: context.dialPlan,
                                            gateway: gateway, transport: kind, localHost: localHost, localPort: localPort)
            let host = gateway.address.hasPrefix("[") ? String(gateway.address.dropFirst().dropLast()) : gateway.address
            let peer = SIPPeer(host: host, port: gateway.port, transport: kind)
            var outcome = await send(request, to: peer)
            if case .success(let response) = outcome, response.statusCode == 401 || response.statusCode == 407,
               let answered = Self.answerChallenge(request, response, gateway) {
                request = answered
                outcome = await send(request, to: peer)
            }
            let attempt: DeliveryAttempt
            switch outcome {
            case .success(let response):
                let code = response.statusCode ?? 0
                attempt = DeliveryAttempt(mailbox: context.mailbox.identity, version: context.version, state: state,
                                          gateway: gateway.name, transport: kind.rawValue, at: Date(),
                                          response: "\(code) \(response.reasonPhrase ?? "")".trimmingCharacters(in: .whitespaces),
                                          delivered: (200..<300).contains(code))
                if code == 489, refusesUnsolicited.insert(gateway.name).inserted {
                    try? await storage.log(.warning, kind: "mwi.bad-event", subject: gateway.name,
                                           message: "IP gateway \(gateway.name) refuses unsolicited NOTIFYs (489 Bad Event): it wants subscriptions")
                }
            case .failure(let error):
                attempt = DeliveryAttempt(mailbox: context.mailbox.identity, version: context.version, state: state,
                                          gateway: gateway.name, transport: kind.rawValue, at: Date(),
                                          response: "\(error)", delivered: false)
            }
            try? await storage.record(attempt)
            let result: String = switch outcome {
            case .success(let response): "\((response.statusCode ?? 0) / 100)xx"
            case .failure(.timeout): "timeout"
            case .failure: "transport"
            }
            Counter(label: "mwid_mwi_notifies_total", dimensions: [("gateway", gateway.name), ("result", result)]).increment()
            if attempt.delivered {
                try? await storage.acknowledge(mailbox: context.mailbox.identity,
                                               AcknowledgedState(version: context.version, state: state,
                                                                 gateway: gateway.name, at: attempt.at))
                return true
            }
            if case .failure = outcome { await health?.deliveryFailed(gateway.name) }
            logger.warning("NOTIFY not delivered", metadata: [
                "mailbox": "\(context.mailbox.identity)", "gateway": "\(gateway.name)", "cause": "\(attempt.response)",
            ])
        }
        return false
    }

    private func send(_ request: SIPMessage, to peer: SIPPeer) async -> Result<SIPMessage, SIPTransportError> {
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
        var rng = SystemRandomNumberGenerator()
        let credentials = SIPDigest.answer(challenge, method: .notify, uri: uri.description, username: username,
                                           password: password, cnonce: SIPDigest.makeCNonce(using: &rng))
        var again = request
        again.headers.add(proxy ? .proxyAuthorization : .authorization, credentials.header.description)
        again.headers.set(.cseq, "\((try? request.cseq()?.sequence).flatMap { $0 }.map { $0 + 1 } ?? 2) NOTIFY")
        return again
    }
}
