public import Foundation
public import Logging
import Metrics
public import Storage
public import UnifiedMessaging

/// The intervals and limits of SMS delivery; tests shorten them.
public struct SMSDispatchSettings: Sendable {
    public var retry = SMSRetryPolicy()
    public var smpp = SMPPTimers()
    public var connectTimeout: Duration = .seconds(5)
    /// HTTP requests, and an SMTP server's set-up and each text's transaction.
    public var requestTimeout: Duration = .seconds(15)
    /// How long an SMTP connection is kept open for the next text (zero: one per text).
    public var smtpIdleTimeout: Duration = .seconds(30)
    /// Texts being sent at once, all routes together.
    public var maximumInFlight = 256
    /// Requests at once per HTTP or SMTP route (an SMPP route has its window).
    public var requestsPerRoute = 16
    /// The outbox is looked at this often even when nothing signals it (another node's
    /// texts, a clock change).
    public var pollInterval: Duration = .seconds(30)
    /// Outcomes are written together within this long.
    public var recordInterval: Duration = .milliseconds(20)
    /// Routes and carriers are read again when older than this.
    public var catalogLifetime: Duration = .seconds(2)
    /// How long stopping waits for the texts being sent.
    public var stopGrace: Duration = .seconds(2)

    public init() {}
}

/// Sends the outbox: texts queued by deposits and missed calls, each through its
/// carrier's route, retried with back-off on temporary failures, never twice once a
/// gateway took it (parts accepted are remembered; a text whose answer was lost stays
/// unconfirmed), recorded with its outcome; delivery receipts mark texts delivered.
/// Passcodes of the set-up go through the same routes at once, never through the outbox
/// (their code is never stored).
public actor SMSDispatcher {
    private enum Sender {
        case smpp(SMPPClient)
        case http(HTTPSMSSender, AsyncLimiter)
        case smtp(SMTPSMSSender, AsyncLimiter)

        var route: SMSRoute {
            switch self {
            case .smpp(let client): client.route
            case .http(let sender, _): sender.route
            case .smtp(let sender, _): sender.route
            }
        }
    }

    private let storage: any Storage
    private let settings: SMSDispatchSettings
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private var senders: [String: Sender] = [:]
    private var catalog: (routes: [String: SMSRoute], carriers: [String: SMSCarrier], read: ContinuousClock.Instant)?
    private var inFlight = 0
    private var finished: [SMSRecord] = []
    private var flushScheduled = false
    private var unmatched: [(route: String, id: String, delivered: Bool, state: String, until: ContinuousClock.Instant)] = []
    private var waiter: CheckedContinuation<Void, Never>?
    private var signalled = false
    private var stopped = false
    /// `stop()` waiting for the texts being sent (resumed when the last one is done, or
    /// after `stopGrace`).
    private var draining: [CheckedContinuation<Void, Never>] = []

    private let sentCounter = Counter(label: "mwid_sms_sent_total")
    private let failedCounter = Counter(label: "mwid_sms_failed_total")
    private let retriedCounter = Counter(label: "mwid_sms_retried_total")
    private let unconfirmedCounter = Counter(label: "mwid_sms_unconfirmed_total")
    private let receiptCounter = Counter(label: "mwid_sms_receipts_total")
    private let sendTime = Metrics.Timer(label: "mwid_sms_send_duration")

    public init(storage: any Storage, settings: SMSDispatchSettings = SMSDispatchSettings(),
                clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "mwid.sms")) {
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    /// Something was queued: look at the outbox now.
    public nonisolated func wake() {
        Task { await self.signal() }
    }

    private func signal() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            signalled = true
        }
    }

    private func sleep(upTo duration: Duration) async {
        if signalled || stopped {
            signalled = false
            return
        }
        let timer = Task {
            guard (try? await Task.sleep(for: duration)) != nil else { return }
            self.signal()
        }
        await withCheckedContinuation { waiter = $0 }
        timer.cancel()
        signalled = false
    }

    /// Sends until `stop()`.
    public func run() async {
        while !stopped && !Task.isCancelled {
            let capacity = settings.maximumInFlight - inFlight
            if capacity > 0 {
                let limit = min(capacity, 200)
                let records: [SMSRecord]
                do {
                    records = try await storage.claimDueSMS(now: clock(), limit: limit)
                } catch {
                    logger.error("cannot read the SMS outbox", metadata: ["error": "\(error)"])
                    await sleep(upTo: .seconds(1))
                    continue
                }
                for record in records {
                    inFlight += 1
                    Task { self.completed(await self.deliver(record)) }
                }
                if records.count == limit { continue }
            }
            if inFlight >= settings.maximumInFlight {
                await sleep(upTo: settings.pollInterval)  // a completion signals
                continue
            }
            var wait = settings.pollInterval
            if let next = try? await storage.nextSMSDue() {
                let seconds = next.timeIntervalSince(clock())
                guard seconds > 0 else {
                    // Due but taken by another sender, or just queued: look again shortly.
                    await sleep(upTo: .milliseconds(50))
                    continue
                }
                wait = min(wait, .milliseconds(Int64(seconds * 1000) + 1))
            }
            await sleep(upTo: wait)
        }
    }

    /// Stops sending: what is being sent finishes (within `stopGrace`; a text still being
    /// handed over after it stays `sending`, and is `unconfirmed` at the next start), the
    /// binds are closed.
    public func stop() async {
        stopped = true
        signal()
        if inFlight > 0 {
            let grace = settings.stopGrace
            await withCheckedContinuation { continuation in
                draining.append(continuation)
                Task {
                    try? await Task.sleep(for: grace)
                    self.drained()
                }
            }
        }
        await flush()
        for sender in senders.values { await close(sender) }
        senders = [:]
    }

    // MARK: Sending

    /// Sends `text` now through `carrier`'s route (the set-up passcode): the outcome, with
    /// nothing stored.
    public func sendNow(_ text: String, to number: String, carrier: SMSCarrier) async -> SMSSendOutcome {
        do {
            let route = try await storage.smsRoute(named: carrier.route)
            return await send(SMSText(text, maximumParts: route.maximumParts), to: number, carrier: carrier, route: route, reference: 0,
                              partsSent: 0)
        } catch {
            return .failed(.temporary("the carrier's route \(carrier.route) cannot be read: \(error)"))
        }
    }

    private func deliver(_ record: SMSRecord) async -> SMSRecord {
        let now = clock()
        guard let (carrier, route) = await resolve(record) else {
            var failed = record
            failed.status = .failed
            failed.attempts += 1
            failed.updatedAt = now
            failed.lastError = "carrier \(record.carrier) (\(record.locale)) or its route is no longer in the catalog"
            return failed
        }
        let text = SMSText(record.text, maximumParts: route.maximumParts)
        let started = ContinuousClock.now
        let outcome = await send(text, to: record.number, carrier: carrier, route: route, reference: Self.reference(record.id),
                                 partsSent: record.partsSent)
        let elapsed = (ContinuousClock.now - started).components
        sendTime.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        let next = settings.retry.apply(outcome, to: record, route: route.name, totalParts: text.parts.count, now: clock())
        switch next.status {
        case .sent: sentCounter.increment()
        case .queued:
            retriedCounter.increment()
            logger.info("text not sent yet, will retry", metadata: ["mailbox": "\(record.mailbox)", "route": "\(route.name)",
                                                                    "error": "\(next.lastError ?? "")", "at": "\(next.notBefore)"])
        case .unconfirmed:
            unconfirmedCounter.increment()
            logger.warning("text unconfirmed", metadata: ["mailbox": "\(record.mailbox)", "route": "\(route.name)", "error": "\(next.lastError ?? "")"])
        default:
            failedCounter.increment()
            logger.error("text failed", metadata: ["mailbox": "\(record.mailbox)", "route": "\(route.name)", "error": "\(next.lastError ?? "")"])
        }
        return next
    }

    private func send(_ text: SMSText, to number: String, carrier: SMSCarrier, route: SMSRoute, reference: UInt8,
                      partsSent: Int) async -> SMSSendOutcome {
        let sender: Sender
        do {
            sender = try self.sender(for: route)
        } catch {
            return .failed(.temporary("route \(route.name) cannot be used: \(error)"))
        }
        switch sender {
        case .smpp(let client):
            return await client.submit(text, to: number, reference: reference, partsSent: partsSent)
        case .http(let http, let limiter):
            return await limiter.run { await http.send(text, to: number) }
        case .smtp(let smtp, let limiter):
            guard let domain = carrier.emailDomain else {
                return .failed(.permanent("carrier \(carrier.name) has no email domain for its smtp route"))
            }
            return await limiter.run { await smtp.send(text, to: number, domain: domain) }
        }
    }

    /// The 8-bit concatenation reference of a text: the same on every retry.
    static func reference(_ id: String) -> UInt8 {
        var hash: UInt8 = 0
        for byte in id.utf8 { hash = hash &* 31 &+ byte }
        return hash
    }

    private func resolve(_ record: SMSRecord) async -> (SMSCarrier, SMSRoute)? {
        if catalog.map({ ContinuousClock.now - $0.read > settings.catalogLifetime }) ?? true {
            do {
                let routes = try await storage.smsRoutes(), carriers = try await storage.smsCarriers(locale: nil)
                catalog = (Dictionary(routes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }),
                           Dictionary(carriers.map { ($0.locale + "\n" + $0.name, $0) }, uniquingKeysWith: { a, _ in a }), .now)
            } catch {
                logger.error("cannot read the SMS routes", metadata: ["error": "\(error)"])
            }
        }
        guard let catalog, let carrier = catalog.carriers[PhoneNumber.canonicalLocale(record.locale) + "\n" + record.carrier],
              let route = catalog.routes[carrier.route] else { return nil }
        return (carrier, route)
    }

    /// The sender of a route, made again when the route changed.
    private func sender(for route: SMSRoute) throws -> Sender {
        if let existing = senders[route.name] {
            if existing.route == route { return existing }
            let old = existing
            Task { await self.close(old) }
        }
        let made: Sender
        switch route.kind {
        case .smpp:
            let name = route.name
            made = .smpp(try SMPPClient(route: route, timers: settings.smpp, onReceipt: { [weak self] id, delivered, state in
                await self?.receipt(route: name, messageID: id, delivered: delivered, state: state)
            }))
        case .http:
            made = .http(try HTTPSMSSender(route: route, connectTimeout: settings.connectTimeout, requestTimeout: settings.requestTimeout),
                         AsyncLimiter(settings.requestsPerRoute))
        case .smtp:
            made = .smtp(try SMTPSMSSender(route: route, connectTimeout: settings.connectTimeout, replyTimeout: settings.requestTimeout,
                                           idleTimeout: settings.smtpIdleTimeout),
                         AsyncLimiter(settings.requestsPerRoute))
        }
        senders[route.name] = made
        return made
    }

    private func close(_ sender: Sender) async {
        switch sender {
        case .smpp(let client): await client.close()
        case .http(let http, _): await http.shutdown()
        case .smtp(let smtp, _): smtp.shutdown()
        }
    }

    // MARK: Records

    private func completed(_ record: SMSRecord) {
        inFlight -= 1
        finished.append(record)
        scheduleFlush(after: settings.recordInterval)
        signal()
        if inFlight == 0 { drained() }
    }

    private func drained() {
        let waiting = draining
        draining = []
        for continuation in waiting { continuation.resume() }
    }

    private func scheduleFlush(after interval: Duration) {
        guard !flushScheduled else { return }
        flushScheduled = true
        Task {
            try? await Task.sleep(for: interval)
            await self.flush()
        }
    }

    private func flush() async {
        flushScheduled = false
        let batch = finished
        finished = []
        if !batch.isEmpty {
            do {
                try await storage.finishSMS(batch)
            } catch {
                // They stay `sending` in the store: after a restart they read as unconfirmed.
                logger.error("cannot record the outcome of texts", metadata: ["count": "\(batch.count)", "error": "\(error)"])
            }
            signal()  // a text to retry is due again only now that its outcome is written
        }
        guard !unmatched.isEmpty else { return }
        let waiting = unmatched
        unmatched = []
        for waited in waiting {
            await receipt(route: waited.route, messageID: waited.id, delivered: waited.delivered, state: waited.state,
                          until: waited.until)
        }
    }

    private func receipt(route: String, messageID: String, delivered: Bool, state: String, until: ContinuousClock.Instant? = nil) async {
        do {
            if try await storage.recordSMSReceipt(route: route, messageID: messageID, delivered: delivered, detail: state, at: clock()) {
                receiptCounter.increment()
                return
            }
        } catch {
            logger.error("cannot record a delivery receipt", metadata: ["error": "\(error)"])
        }
        // A receipt may overtake the record of its submit: tried again with the next writes.
        let deadline = until ?? .now + .seconds(60)
        if deadline > .now {
            unmatched.append((route, messageID, delivered, state, deadline))
            scheduleFlush(after: .milliseconds(250))
        } else {
            logger.info("delivery receipt for no known text", metadata: ["route": "\(route)", "message": "\(messageID)"])
        }
    }
}

/// At most `limit` bodies running at once; the others wait in order.
actor AsyncLimiter {
    private let limit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ limit: Int) { self.limit = max(1, limit) }

    func run<T: Sendable>(_ body: @Sendable () async -> T) async -> T {
        if running < limit {
            running += 1
        } else {
            await withCheckedContinuation { waiting.append($0) }
        }
        let result = await body()
        if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
        return result
    }
}
