public import Foundation
public import Logging
import Metrics
import NIOCore
public import SIP
public import SIPTransport
public import Storage
import Synchronization
public import UnifiedMessaging

/// The message-summary notifier (SPEC §2.7, RFC 6665, RFC 3842): phones and PBXs
/// SUBSCRIBE to a mailbox and are kept current with in-dialog NOTIFYs.
///
/// It hangs off the same pipeline as unsolicited delivery: the dispatcher reads a
/// mailbox's committed state once and hands it to `deliver(_:)`, so the same 5 s per-user
/// coalescing applies. Subscriptions are stored (they survive a restart and are re-armed
/// with their remaining time); their timers — expiries and NOTIFY retries — are two
/// sorted queues with one wake-up, not a timer per subscription.
public actor SubscriptionServer {
    /// A live subscription: the stored dialog and how its NOTIFYs are going. A class, so
    /// that the registry's table holds one pointer per subscription (100 000 of them must
    /// fit in 150 MB); only the actor touches it.
    final class Live {
        var record: MWISubscription
        /// The CSeq of the next NOTIFY.
        var cseq: UInt32
        /// Nanoseconds since 1970 at which it ends without a refresh.
        var expiresAt: Int64
        var inFlight = false
        /// MWI is off for the mailbox's policy and the last "no" went out: no more change notices.
        var silenced = false
        var failures: UInt16 = 0
        /// The newest state to send once the NOTIFY in flight is answered (or to retry).
        var pending: Publication?
        /// The version and counts the subscriber last acknowledged.
        var notifiedVersion: Int64?
        var notifiedState: MessageWaitingState?
        var lastNotifyAt: Date?
        var lastResponse: String?
        var retryAt: Int64?
        /// In the queue for a place in the NOTIFY window, with `pending` to send.
        var queued = false
        /// The mailbox's next subscription (the registry chains them: no array per mailbox).
        var nextInMailbox: Live?

        init(record: MWISubscription, cseq: UInt32, expiresAt: Int64) {
            self.record = record
            self.cseq = cseq
            self.expiresAt = expiresAt
        }
    }

    /// A state to tell subscribers: the counts, their version, and whether the mailbox's
    /// policy allows MWI (when not, subscribers are told "no" once).
    struct Publication {
        var state: MessageWaitingState
        var version: Int64
        var enabled: Bool
        /// Sent even when the subscriber already has this version (after a refresh).
        var forced = false
    }

    let storage: any Storage
    private let transport: any NotifyTransport
    public let settings: SubscriptionSettings
    let logger: Logger
    let clock: @Sendable () -> Date
    private var changed: @Sendable (String) -> Void = { _ in }
    /// Who to tell of a publication's change (the dispatcher, the SMS outbox). Outside the
    /// actor: a trusted peer's PUBLISH is handled without entering it.
    private let publishedTo = Mutex(Listener { _ in })
    nonisolated func published(_ change: MWIStateChange) { publishedTo.withLock { $0 }.tell(change) }

    /// The listener in a struct: a bare function value passed `inout` through `withLock`
    /// is re-abstracted, and so wrapped in one more thunk, at every call (seen as a
    /// recursion of thunks thousands deep under load, then a stack overflow).
    private struct Listener: Sendable {
        let tell: @Sendable (MWIStateChange) -> Void
    }

    private var live: [String: Live] = [:]
    /// The first subscription of each mailbox; the others follow through `nextInMailbox`.
    private var byMailbox: [String: Live] = [:]
    /// `live.count`, readable without entering the actor (the dispatcher skips telling
    /// subscribers when there are none: two hops a batch).
    private nonisolated let liveCount = Atomic<Int>(0)
    public nonisolated var hasSubscriptions: Bool { liveCount.load(ordering: .relaxed) > 0 }
    private var expiries = TimerQueue<String>()
    private var retries = TimerQueue<String>()
    private var waker: Task<Void, Never>?
    private var wakerAt: Int64?
    private var authenticator: DigestAuthenticator
    /// The same key, for challenges only (they need no state): a SUBSCRIBE without
    /// credentials is answered 401 without entering the actor.
    private let challenger: DigestAuthenticator
    private let limiter: Mutex<RequestRateLimiter>
    private var sentByCache: [SIPTransportKind: (host: String, port: Int)] = [:]
    private var stopped = false
    /// NOTIFYs sent and not yet answered (at most `settings.notifyWindow`), and the
    /// subscriptions waiting for a place among them, oldest first. A change to many
    /// mailboxes at once goes out no faster than the subscribers answer, instead of
    /// overflowing their sockets and coming back as retransmissions.
    private var notifying = 0
    private var waitingForWindow = CircularBuffer<String>()

    private let liveGauge = Gauge(label: "mwid_subscriptions")
    private let notifyingGauge = Gauge(label: "mwid_subscription_notifies_in_flight")
    private let waitingGauge = Gauge(label: "mwid_subscription_notifies_waiting")
    private let notifyCounters: [String: Counter]

    public init(storage: any Storage, transport: any NotifyTransport, settings: SubscriptionSettings = SubscriptionSettings(),
                logger: Logger = Logger(label: "mwid.subscriptions"), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.storage = storage
        self.transport = transport
        self.settings = settings
        self.logger = logger
        self.clock = clock
        var secret = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in secret.indices { secret[i] = rng.next() }
        authenticator = DigestAuthenticator(realm: settings.realm, secret: secret, nonceLifetime: Int64(settings.nonceLifetime))
        challenger = authenticator
        limiter = Mutex(RequestRateLimiter(rate: settings.requestRate, burst: settings.requestBurst))
        notifyCounters = Dictionary(uniqueKeysWithValues: ["2xx", "481", "failed", "timeout", "transport"].map {
            ($0, Counter(label: "mwid_subscription_notifies_total", dimensions: [("result", $0)]))
        })
    }

    /// Who to tell when a mailbox must be looked at again by the dispatcher: after a
    /// restart (subscribers catch up) and when a mailbox's last subscription ends
    /// (unsolicited NOTIFYs may resume).
    public func onChange(_ changed: @escaping @Sendable (String) -> Void) { self.changed = changed }

    /// Who to tell when a PUBLISH (or a publication's expiry) changed a mailbox: the
    /// dispatcher, which then tells gateways and subscribers, and the SMS outbox.
    public func onPublished(_ published: @escaping @Sendable (MWIStateChange) -> Void) { publishedTo.withLock { $0 = Listener(tell: published) } }

    public func stop() {
        stopped = true
        waker?.cancel()
        waker = nil
    }

    // MARK: Time

    private nonisolated func nowNanos() -> Int64 { Self.nanos(clock()) }
    private static func nanos(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1e9).rounded()) }
    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    // MARK: SUBSCRIBE

    /// Answers a SUBSCRIBE (initial, refresh or unsubscribe). What needs only the request —
    /// its checks, the flood guard, the challenge of a new one without credentials (half
    /// of the SUBSCRIBEs a phone sends) — is answered without entering the actor.
    public nonisolated func handleSubscribe(_ incoming: SIPIncomingRequest) async -> SIPReply {
        let request = incoming.message
        switch SubscriptionRules.check(request, settings: settings) {
        case .failure(let refusal):
            return SIPReply(refusal.response(to: request))
        case .success(let intent):
            if let refusal = limit(incoming) { return SIPReply(refusal.response(to: request)) }
            do throws(SIPRefusal) {
                guard intent.toTag == nil else { return try await refresh(intent, incoming) }
                let credentials = try challengeUnlessCredentials(request, from: incoming.source)
                return try await subscribe(intent, incoming, credentials: credentials)
            } catch {
                return SIPReply(error.response(to: request))
            }
        }
    }

    /// A subscription's id and local tag: 60 random bits, drawn again in the unlikely case
    /// that they name a live subscription (storage keys subscriptions by mailbox and id,
    /// and the registry by id alone).
    private func newID() -> String {
        var id = SIPIdentifiers.tag()
        while live[id] != nil { id = SIPIdentifiers.tag() }
        return id
    }

    /// The per-address flood guard (trusted peers are not limited).
    nonisolated func limit(_ incoming: SIPIncomingRequest) -> SIPRefusal? {
        let address = incoming.source.ipAddress ?? "?"
        guard !settings.isTrusted(address) else { return nil }
        let now = nowNanos()
        guard let retryAfter = limiter.withLock({ $0.allow(address, now: now) ? nil : $0.retryAfter(address) }) else { return nil }
        return SIPRefusal(503, "Service Unavailable (too many requests from \(address))", headers: [(.retryAfter, "\(retryAfter)")])
    }

    /// A new subscription (no To-tag) that carries credentials or comes from a trusted peer:
    /// find the mailbox, authenticate, admit, store, 200, then the first NOTIFY.
    private func subscribe(_ intent: SubscribeIntent, _ incoming: SIPIncomingRequest,
                           credentials: DigestCredentials?) async throws(SIPRefusal) -> SIPReply {
        let request = incoming.message
        let context = try resolve(await lookup(intent.requestURI), credentials: credentials, method: .subscribe,
                                  naming: intent.requestURI)
        let target = context.mailbox
        let subscriber = try await authenticate(credentials, method: .subscribe, source: incoming.source, target: target)
        let publication = Publication(state: context.state, version: context.version,
                                      enabled: context.policy.allowMessageWaitingIndicator, forced: true)
        let (host, port) = await sentBy(incoming.transport)
        var response = request.makeResponse(statusCode: 200, toTag: nil)
        let dialog = MWISubscription(
            id: newID(), mailbox: target.identity, callID: intent.callID, remoteTag: intent.fromTag,
            localURI: intent.to.description, remoteURI: intent.from.description,
            remoteTarget: intent.contact?.description ?? "", routeSet: intent.routeSet,
            transport: incoming.transport.rawValue, source: Self.show(incoming.source), eventID: intent.eventID,
            remoteCSeq: intent.cseq, localCSeqReserved: settings.cseqBlock + 1,
            expiresAt: clock().addingTimeInterval(TimeInterval(intent.expires)), createdAt: clock(), subscriber: subscriber)
        Self.answer(&response, dialog: dialog, expires: intent.expires, transport: incoming.transport, host: host, port: port)

        if intent.expires == 0 {
            // A fetch (RFC 6665 §4.4.3): the state once, no subscription kept.
            let state = publication.enabled ? publication.state : MessageWaitingState()
            return SIPReply(response, afterSending: { self.sendFinal(dialog, cseq: 1, state: state, reason: "timeout") })
        }
        guard count(mailbox: target.identity) < settings.maximumPerMailbox else {
            throw SIPRefusal(503, "Service Unavailable (mailbox \(target.identity) has \(settings.maximumPerMailbox) subscriptions)",
                             headers: [(.retryAfter, "\(settings.minimumExpires)")])
        }
        guard live.count < settings.maximumTotal else {
            throw SIPRefusal(503, "Service Unavailable (\(settings.maximumTotal) subscriptions, the most this server keeps)",
                             headers: [(.retryAfter, "\(settings.minimumExpires)")])
        }
        // Admitted: in memory before the write, so that concurrent SUBSCRIBEs count it.
        insert(Live(record: dialog, cseq: 1, expiresAt: Self.nanos(dialog.expiresAt)))
        do {
            try await storage.save(dialog)
        } catch {
            remove(dialog.id)
            throw SIPRefusal(500, "Server Internal Error (cannot store the subscription)")
        }
        logger.info("subscribed", metadata: ["mailbox": "\(target.identity)", "subscription": "\(dialog.id)",
                                             "subscriber": "\(subscriber)", "expires": "\(intent.expires)"])
        let id = dialog.id
        return SIPReply(response, afterSending: { Task { await self.offer(id, publication) } })
    }

    /// A SUBSCRIBE inside a dialog: refresh (200, then a NOTIFY of the current state) or
    /// unsubscribe (`Expires: 0`: 200, then the final NOTIFY).
    private func refresh(_ intent: SubscribeIntent, _ incoming: SIPIncomingRequest) async throws(SIPRefusal) -> SIPReply {
        let request = incoming.message
        guard let id = intent.toTag, let found = live[id], found.record.callID == intent.callID,
              found.record.remoteTag == intent.fromTag else {
            throw SIPRefusal(481, "Subscription Does Not Exist")
        }
        guard intent.cseq > found.record.remoteCSeq else {
            throw SIPRefusal(500, "Server Internal Error (CSeq \(intent.cseq) is not above \(found.record.remoteCSeq))")
        }
        let context: DeliveryContext
        do {
            context = try await storage.deliveryContext(mailbox: found.record.mailbox)
        } catch {
            throw SIPRefusal(481, "Subscription Does Not Exist (the mailbox is gone)")
        }
        _ = try await authenticate(Self.credentials(request, realm: settings.realm), method: .subscribe,
                                   source: incoming.source, target: context.mailbox)
        // The awaits above let other work run: look again.
        guard let sub = live[id], intent.cseq > sub.record.remoteCSeq else { throw SIPRefusal(481, "Subscription Does Not Exist") }
        sub.record.remoteCSeq = intent.cseq
        if let contact = intent.contact { sub.record.remoteTarget = contact.description }
        let (host, port) = await sentBy(incoming.transport)
        var response = request.makeResponse(statusCode: 200, toTag: nil)
        Self.answer(&response, dialog: sub.record, expires: intent.expires, transport: incoming.transport, host: host, port: port)
        let state = context.policy.allowMessageWaitingIndicator ? context.state : MessageWaitingState()
        if intent.expires == 0 {
            let cseq = sub.cseq
            remove(id)
            try? await storage.removeSubscription(id: id, mailbox: sub.record.mailbox)
            logger.info("unsubscribed", metadata: ["mailbox": "\(sub.record.mailbox)", "subscription": "\(id)"])
            let record = sub.record
            return SIPReply(response, afterSending: { self.sendFinal(record, cseq: cseq, state: state, reason: "timeout") })
        }
        sub.record.expiresAt = clock().addingTimeInterval(TimeInterval(intent.expires))
        sub.expiresAt = Self.nanos(sub.record.expiresAt)
        expiries.schedule(id, at: sub.expiresAt)
        armWaker()
        try? await storage.save(sub.record)
        let publication = Publication(state: context.state, version: context.version,
                                      enabled: context.policy.allowMessageWaitingIndicator, forced: true)
        return SIPReply(response, afterSending: { Task { await self.offer(id, publication) } })
    }

    /// 200 OK of a SUBSCRIBE: mwid's tag, Contact, the expiry granted.
    private static func answer(_ response: inout SIPMessage, dialog: MWISubscription, expires: Int,
                               transport: SIPTransportKind, host: String, port: Int) {
        if var to = try? response.to() {
            to.tag = dialog.id
            response.headers.set(.to, to.description)
        }
        var parameters = SIPParameters()
        if transport != .udp { parameters.set("transport", transport.rawValue) }
        response.headers.add(.contact, SIPNameAddress(uri: SIPURI(user: "mwid", host: host, port: UInt16(clamping: port),
                                                                 parameters: parameters)).description)
        response.headers.add(.expires, "\(expires)")
    }

    // MARK: REGISTER

    /// Answers REGISTER for a mailbox's extension, after the same authentication as a
    /// SUBSCRIBE, by echoing its bindings: mwid is no registrar (it routes no calls), but
    /// some phones (baresip, pjsua) SUBSCRIBE only once registered.
    public func handleRegister(_ incoming: SIPIncomingRequest) async -> SIPMessage {
        let request = incoming.message
        if let refusal = limit(incoming) { return refusal.response(to: request) }
        do throws(SIPRefusal) {
            guard let to = try? request.to() else { throw SIPRefusal(400, "Malformed To header") }
            let credentials = try challengeUnlessCredentials(request, from: incoming.source)
            let target = try resolve(await lookup(to.uri), credentials: credentials, method: .register, naming: to.uri).mailbox
            _ = try await authenticate(credentials, method: .register, source: incoming.source, target: target)
            var response = request.makeResponse(statusCode: 200, toTag: SIPIdentifiers.tag())
            let defaultExpires = ((try? request.expires()) ?? nil).map(Int.init) ?? 3600
            for contact in (try? request.contacts()) ?? [] {
                let asked = (contact.parameters["expires"] ?? nil).flatMap { Int($0) } ?? defaultExpires
                guard asked > 0 else { continue }
                var binding = contact
                binding.parameters.set("expires", "\(min(asked, settings.maximumExpires))")
                response.headers.add(.contact, binding.description)
            }
            return response
        } catch {
            return error.response(to: request)
        }
    }

    // MARK: Authentication

    static func credentials(_ request: SIPMessage, realm: String) -> DigestCredentials? {
        ((try? request.authorization()) ?? []).lazy.compactMap { try? DigestCredentials($0) }.first { $0.realm == realm }
    }

    /// A request without credentials from a peer that is not trusted is challenged before
    /// anything is looked up: it learns nothing, not even whether the mailbox exists.
    /// Returns the request's credentials for this realm (parsed once, for the look-up and
    /// the check that follow), nil for a trusted peer that sent none.
    nonisolated func challengeUnlessCredentials(_ request: SIPMessage, from source: SocketAddress) throws(SIPRefusal)
        -> DigestCredentials?
    {
        let credentials = Self.credentials(request, realm: settings.realm)
        guard credentials == nil, !settings.isTrusted(source.ipAddress ?? "?") else { return credentials }
        throw challenge(now: Int64(clock().timeIntervalSince1970), stale: false)
    }

    /// The mailbox a request names. One extension may be in several dial plans: then the
    /// credentials say which (their username, else whose password they were made with).
    func resolve(_ candidates: [DeliveryContext], credentials: DigestCredentials?, method: SIPMethod,
                 naming uri: SIPURI) throws(SIPRefusal) -> DeliveryContext {
        guard candidates.count > 1 else {
            guard let only = candidates.first else { throw SIPRefusal(404, "Not Found (no mailbox for \(uri))") }
            return only
        }
        guard let credentials else {
            throw SIPRefusal(485, "Ambiguous (\(uri) names \(candidates.count) mailboxes)")
        }
        let named = candidates.filter { SubscriptionRules.username(credentials.username, names: $0.mailbox) }
        if named.count == 1, let only = named.first { return only }
        if let matching = named.first(where: { context in
            context.mailbox.sipPassword.map { Self.matches(credentials, method: method, password: $0) } ?? false
        }) { return matching }
        throw SIPRefusal(485, "Ambiguous (\(uri) names \(candidates.count) mailboxes; authenticate with the identity)")
    }

    /// Whether credentials were made with `password` (no nonce bookkeeping: choosing a
    /// mailbox is not admitting anyone).
    private static func matches(_ c: DigestCredentials, method: SIPMethod, password: String) -> Bool {
        let ha1 = SIPDigest.ha1(algorithm: c.algorithm, username: c.username, realm: c.realm, password: password,
                                nonce: c.nonce, cnonce: c.cnonce)
        let expected = SIPDigest.response(algorithm: c.algorithm, ha1: ha1, nonce: c.nonce, nonceCount: c.nonceCount,
                                          cnonce: c.cnonce, qop: c.qop, method: method, uri: c.uri)
        return expected == c.response.lowercased()
    }

    /// Trusted peers pass; others need digest credentials of `target` (SPEC §2.7). Returns
    /// who the subscriber is; refuses with 401 (a challenge, `stale` when the nonce is old)
    /// or 403 (wrong credentials, or another mailbox's).
    func authenticate(_ credentials: DigestCredentials?, method: SIPMethod, source: SocketAddress,
                      target: UMMailbox) async throws(SIPRefusal) -> String {
        let address = source.ipAddress ?? "?"
        if settings.isTrusted(address) { return "trusted \(address)" }
        let now = Int64(clock().timeIntervalSince1970)
        guard let credentials else {
            throw challenge(now: now, stale: false)
        }
        if SubscriptionRules.username(credentials.username, names: target) {
            guard let password = target.sipPassword else {
                throw SIPRefusal(403, "Forbidden (mailbox \(target.identity) has no SIP password)")
            }
            switch authenticator.verify(credentials, method: method, password: password, now: now) {
            case .valid: return "digest \(credentials.username)"
            case .stale: throw challenge(now: now, stale: true)
            case .replay: throw challenge(now: now, stale: false)
            case .invalid: throw SIPRefusal(403, "Forbidden (wrong credentials)")
            }
        }
        // Credentials of someone else: never a way into this mailbox.
        var others = await lookup(SIPURI(user: credentials.username, host: "-")).map(\.mailbox)
        if let named = try? await storage.mailbox(identity: credentials.username) { others.append(named) }
        for other in others where other.identity != target.identity {
            if let password = other.sipPassword,
               authenticator.verify(credentials, method: method, password: password, now: now) == .valid {
                throw SIPRefusal(403, "Forbidden (these are the credentials of another mailbox)")
            }
        }
        throw SIPRefusal(403, "Forbidden (wrong credentials)")
    }

    /// A 401 with one challenge per configured algorithm (RFC 7616: MD5, SHA-256).
    private nonisolated func challenge(now: Int64, stale: Bool) -> SIPRefusal {
        SIPRefusal(401, "Unauthorized", headers: settings.digestAlgorithms.map { algorithm in
            (.wwwAuthenticate, challenger.challenge(now: now, algorithm: algorithm, stale: stale).header.description)
        })
    }

    /// The mailboxes a URI names, with their state and policy (none when storage cannot be
    /// read: nothing is revealed).
    func lookup(_ uri: SIPURI) async -> [DeliveryContext] {
        let keys = SubscriptionRules.lookupKeys(uri)
        return (try? await storage.deliveryContexts(extension: keys.extension, resourceIdentifiers: keys.resourceIdentifiers)) ?? []
    }

    private func sentBy(_ transport: SIPTransportKind) async -> (host: String, port: Int) {
        if let known = sentByCache[transport] { return known }
        let value = await self.transport.sentBy(transport)
        sentByCache[transport] = value
        return value
    }

    static func show(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        return ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]:\(address.port ?? 0)" : "\(ip):\(address.port ?? 0)"
    }

    // MARK: The registry

    private func insert(_ sub: Live) {
        live[sub.record.id] = sub
        if let first = byMailbox[sub.record.mailbox] {
            var last = first
            while let next = last.nextInMailbox { last = next }
            last.nextInMailbox = sub
        } else {
            byMailbox[sub.record.mailbox] = sub
        }
        expiries.schedule(sub.record.id, at: sub.expiresAt)
        liveCount.store(live.count, ordering: .relaxed)
        liveGauge.record(live.count)
        armWaker()
    }

    @discardableResult
    private func remove(_ id: String) -> Live? {
        guard let sub = live.removeValue(forKey: id) else { return nil }
        let mailbox = sub.record.mailbox
        if byMailbox[mailbox] === sub {
            byMailbox[mailbox] = sub.nextInMailbox
        } else {
            var previous = byMailbox[mailbox]
            while let current = previous, current.nextInMailbox !== sub { previous = current.nextInMailbox }
            previous?.nextInMailbox = sub.nextInMailbox
        }
        sub.nextInMailbox = nil
        if byMailbox[mailbox] == nil {
            changed(mailbox)  // the last one: unsolicited NOTIFYs may take over again
        }
        liveCount.store(live.count, ordering: .relaxed)
        liveGauge.record(live.count)
        return sub
    }

    /// Live subscriptions of a mailbox.
    public func count(mailbox: String) -> Int {
        var count = 0
        var next = byMailbox[mailbox]
        while let sub = next {
            count += 1
            next = sub.nextInMailbox
        }
        return count
    }

    /// The live subscriptions of a mailbox, oldest first.
    private func chain(_ mailbox: String) -> [Live] {
        var subs: [Live] = []
        var next = byMailbox[mailbox]
        while let sub = next {
            subs.append(sub)
            next = sub.nextInMailbox
        }
        return subs
    }
    public var total: Int { live.count }

    public func subscriptions(mailbox: String) -> [MWISubscriptionStatus] {
        chain(mailbox).map { sub in
            MWISubscriptionStatus(id: sub.record.id, mailbox: sub.record.mailbox, subscriber: sub.record.subscriber,
                                  contact: sub.record.remoteTarget, transport: sub.record.transport, source: sub.record.source,
                                  createdAt: sub.record.createdAt, expiresAt: sub.record.expiresAt,
                                  notifiedState: sub.notifiedState?.description, lastNotifyAt: sub.lastNotifyAt,
                                  lastResponse: sub.lastResponse)
        }
    }

    /// An administrator ends a subscription: the subscriber gets a final NOTIFY
    /// (`terminated;reason=deactivated`, so a phone still there subscribes again at once).
    /// False when there is no such subscription of that mailbox.
    public func end(id: String, mailbox: String) async -> Bool {
        guard let sub = live[id], sub.record.mailbox == mailbox, let ended = remove(id) else { return false }
        try? await storage.removeSubscription(id: id, mailbox: mailbox)
        try? await storage.log(.info, kind: "subscription.ended", subject: mailbox,
                               message: "subscription \(id) of \(ended.record.subscriber) ended by an administrator")
        sendFinal(ended.record, cseq: ended.cseq, state: ended.notifiedState ?? MessageWaitingState(), reason: "deactivated")
        return true
    }

    /// The mailbox is gone: its subscribers are told (`terminated;reason=noresource`).
    public func mailboxRemoved(_ mailbox: String) {
        for sub in chain(mailbox) {
            guard let ended = remove(sub.record.id) else { continue }
            sendFinal(ended.record, cseq: ended.cseq, state: MessageWaitingState(), reason: "noresource")
        }
    }

    /// After a restart: re-arms every stored subscription with its remaining time (the
    /// expired ones are told and forgotten), then has the dispatcher send each mailbox's
    /// state, so that phones that missed changes catch up.
    public func restore() async {
        let stored: [MWISubscription]
        do {
            stored = try await storage.subscriptions()
        } catch {
            logger.error("cannot read the stored subscriptions: \(error)")
            return
        }
        let now = clock()
        var mailboxes: [String] = []
        for record in stored {
            guard record.expiresAt > now else {
                try? await storage.removeSubscription(id: record.id, mailbox: record.mailbox)
                sendFinal(record, cseq: record.localCSeqReserved, state: MessageWaitingState(), reason: "timeout")
                continue
            }
            guard live[record.id] == nil else { continue }
            // The reserved block may be partly used: continue above it.
            insert(Live(record: record, cseq: record.localCSeqReserved, expiresAt: Self.nanos(record.expiresAt)))
            if byMailbox[record.mailbox]?.nextInMailbox == nil { mailboxes.append(record.mailbox) }
        }
        if !stored.isEmpty { logger.info("re-armed \(live.count) subscriptions of \(mailboxes.count) mailboxes") }
        for mailbox in mailboxes { changed(mailbox) }
    }

    // MARK: Delivery

    /// The dispatcher read the mailbox's committed state: every subscriber that does not
    /// have it yet gets a NOTIFY (one in flight per subscription; a newer state waits for
    /// it). With MWI off for the mailbox's policy, subscribers are told "no" once, then
    /// nothing until it is on again. Returns how many subscriptions the mailbox has and
    /// how many NOTIFYs this started or queued for the NOTIFY window.
    /// The same for many mailboxes at once (the dispatcher's batches).
    public func deliver(_ contexts: [DeliveryContext]) -> [String: (live: Int, started: Int)] {
        var told: [String: (live: Int, started: Int)] = [:]
        for context in contexts where byMailbox[context.mailbox.identity] != nil {
            told[context.mailbox.identity] = deliver(context)
        }
        return told
    }

    @discardableResult
    public func deliver(_ context: DeliveryContext) -> (live: Int, started: Int) {
        let publication = Publication(state: context.state, version: context.version,
                                      enabled: context.policy.allowMessageWaitingIndicator)
        var count = 0, started = 0
        var next = byMailbox[context.mailbox.identity]
        while let sub = next {
            next = sub.nextInMailbox
            count += 1
            if offer(sub.record.id, publication) { started += 1 }
        }
        return (count, started)
    }

    /// How many NOTIFYs are sent and unanswered, and how many subscriptions wait for a
    /// place in the window.
    public func notifyBacklog() -> (inFlight: Int, waiting: Int) { (notifying, waitingForWindow.count) }

    /// Sends `publication` to one subscription unless it already has it; true when a
    /// NOTIFY started or waits for a place in the window.
    @discardableResult
    private func offer(_ id: String, _ publication: Publication) -> Bool {
        guard !stopped, let sub = live[id] else { return false }
        if sub.inFlight || sub.retryAt != nil || sub.queued {
            let waits = sub.queued
            if let pending = sub.pending, pending.version > publication.version, !publication.forced { return waits }
            var next = publication
            next.forced = publication.forced || (sub.pending?.forced ?? false)
            sub.pending = next
            return waits
        }
        if !publication.forced {
            if publication.enabled, !sub.silenced, let notified = sub.notifiedVersion, notified >= publication.version { return false }
            if !publication.enabled, sub.silenced { return false }
        }
        // First come, first served: while others wait, a new NOTIFY waits behind them.
        if notifying >= settings.notifyWindow || !waitingForWindow.isEmpty {
            sub.queued = true
            sub.pending = publication
            waitingForWindow.append(id)
            waitingGauge.record(waitingForWindow.count)
            return true
        }
        start(sub, publication)
        return true
    }

    /// Sends the NOTIFY of `publication` now: the window has a place for it.
    private func start(_ sub: Live, _ publication: Publication) {
        let id = sub.record.id
        notifying += 1
        notifyingGauge.record(notifying)
        sub.inFlight = true
        sub.pending = nil
        let cseq = sub.cseq
        sub.cseq += 1
        let reserve = sub.cseq >= sub.record.localCSeqReserved
        if reserve { sub.record.localCSeqReserved = cseq + settings.cseqBlock }
        let remaining = max(0, Int((Double(sub.expiresAt - nowNanos()) / 1e9).rounded(.down)))
        let state = publication.enabled ? publication.state : MessageWaitingState()
        let subscriptionState = SIPSubscriptionState(.active, expires: UInt32(clamping: remaining))
        let kind = SIPTransportKind(name: sub.record.transport) ?? .udp
        let hops = SubscriptionNotify.hops(sub.record)
        // The usual case — no CSeq block to store first, one hop, its address known — is
        // sent at once, and its answer comes back through the inbox with others.
        if !reserve, hops.count == 1, let hop = hops.first, let local = sentByCache[kind],
           let request = SubscriptionNotify.request(sub.record, cseq: cseq, state: state, subscriptionState: subscriptionState,
                                                    transport: kind, localHost: local.host, localPort: local.port) {
            transport.start(request, to: hop) { result in
                self.answered(Answer(id: id, publication: publication, state: state, result: result))
            }
            return
        }
        let record = sub.record
        Task {
            // Stored before the CSeq is used, so that a restart continues above it.
            if reserve { try? await self.storage.save(record) }
            let result = await self.send(record, cseq: cseq, state: state, subscriptionState: subscriptionState)
            self.completed(id, publication, state: state, result: result)
        }
    }

    /// A NOTIFY was answered (or given up): its place goes to the subscriptions waiting
    /// longest that are still live.
    private func releasePlace() {
        notifying -= 1
        while !stopped, notifying < settings.notifyWindow, let id = waitingForWindow.popFirst() {
            guard let sub = live[id], sub.queued else { continue }
            sub.queued = false
            guard let next = sub.pending else { continue }
            sub.pending = nil
            start(sub, next)
        }
        notifyingGauge.record(notifying)
        waitingGauge.record(waitingForWindow.count)
    }

    /// A subscriber's answer to a NOTIFY (or its transport error).
    private struct Answer: Sendable {
        var id: String
        var publication: Publication
        var state: MessageWaitingState
        var result: Result<SIPMessage, SIPTransportError>
    }

    /// Answers arriving on the transport's threads, waiting to be taken into the actor.
    private nonisolated let answers = Inbox<Answer>()

    private nonisolated func answered(_ answer: Answer) {
        if answers.post(answer) { Task { await self.collectAnswers() } }
    }

    private func collectAnswers() {
        for answer in answers.take() { completed(answer.id, answer.publication, state: answer.state, result: answer.result) }
    }

    /// Sends a NOTIFY along the subscription's hops (the connection it came on, then the
    /// Contact); the final response or the last transport error.
    private func send(_ record: MWISubscription, cseq: UInt32, state: MessageWaitingState,
                      subscriptionState: SIPSubscriptionState) async -> Result<SIPMessage, SIPTransportError> {
        let kind = SIPTransportKind(name: record.transport) ?? .udp
        let (host, port) = await sentBy(kind)
        guard let request = SubscriptionNotify.request(record, cseq: cseq, state: state, subscriptionState: subscriptionState,
                                                       transport: kind, localHost: host, localPort: port) else {
            return .failure(.invalidRequest("the stored dialog cannot be read"))
        }
        var outcome: Result<SIPMessage, SIPTransportError> = .failure(.invalidRequest("no route to the subscriber"))
        for hop in SubscriptionNotify.hops(record) {
            do {
                outcome = .success(try await transport.send(request, to: hop))
                break
            } catch {
                outcome = .failure(error)
                if case .connectionClosed = error, hop.existingConnectionOnly { continue }
                break
            }
        }
        return outcome
    }

    private func completed(_ id: String, _ publication: Publication, state: MessageWaitingState,
                           result: Result<SIPMessage, SIPTransportError>) {
        defer { releasePlace() }
        guard let sub = live[id] else { return }
        sub.inFlight = false
        sub.lastNotifyAt = clock()
        switch result {
        case .success(let response) where (200..<300).contains(response.statusCode ?? 0):
            sub.failures = 0
            if publication.enabled {
                sub.notifiedVersion = max(sub.notifiedVersion ?? .min, publication.version)
                sub.silenced = false
            } else {
                sub.silenced = true
            }
            sub.notifiedState = state
            sub.lastResponse = "\(response.statusCode ?? 0) \(response.reasonPhrase ?? "")"
            notifyCounters["2xx"]?.increment()
        case .success(let response) where response.statusCode == 481:
            // RFC 6665 §4.2.2: the subscriber no longer has it.
            end(id, sub, why: "the subscriber answered 481", counter: "481")
            return
        case .failure(.timeout):
            end(id, sub, why: "the NOTIFY timed out", counter: "timeout")
            return
        case .success(let response):
            sub.lastResponse = "\(response.statusCode ?? 0) \(response.reasonPhrase ?? "")"
            scheduleRetry(sub, publication)
            notifyCounters["failed"]?.increment()
        case .failure(let error):
            sub.lastResponse = "\(error)"
            scheduleRetry(sub, publication)
            notifyCounters["transport"]?.increment()
        }
        let next = sub.pending
        if sub.retryAt == nil, let next {
            live[id]?.pending = nil
            offer(id, next)
        }
    }

    /// Ends a subscription whose subscriber is gone (481, or a NOTIFY timed out).
    private func end(_ id: String, _ sub: Live, why: String, counter: String) {
        notifyCounters[counter]?.increment()
        remove(id)
        logger.notice("subscription ended", metadata: ["mailbox": "\(sub.record.mailbox)", "subscription": "\(id)", "cause": "\(why)"])
        let storage = self.storage, mailbox = sub.record.mailbox, subscriber = sub.record.subscriber
        Task {
            try? await storage.removeSubscription(id: id, mailbox: mailbox)
            try? await storage.log(.info, kind: "subscription.ended", subject: mailbox,
                                   message: "subscription \(id) of \(subscriber) ended: \(why)")
        }
    }

    private func scheduleRetry(_ sub: Live, _ publication: Publication) {
        sub.failures = sub.failures &+ 1
        let backoff = min(60, Self.seconds(settings.retryBackoff) * pow(2, Double(min(Int(sub.failures) - 1, 10))))
        let at = nowNanos() + Int64(backoff * 1e9)
        guard at < sub.expiresAt else { return }  // it ends before: the expiry says the rest
        sub.retryAt = at
        if sub.pending == nil { sub.pending = publication }
        retries.schedule(sub.record.id, at: at)
        armWaker()
        logger.warning("NOTIFY to a subscriber failed; retrying", metadata: [
            "mailbox": "\(sub.record.mailbox)", "subscription": "\(sub.record.id)", "cause": "\(sub.lastResponse ?? "")",
        ])
    }

    /// The final NOTIFY of an ended subscription (`terminated;reason=…`), best effort and
    /// without waiting for its answer.
    private nonisolated func sendFinal(_ record: MWISubscription, cseq: UInt32, state: MessageWaitingState, reason: String) {
        Task {
            _ = await self.send(record, cseq: cseq, state: state, subscriptionState: SIPSubscriptionState(.terminated, reason: reason))
        }
    }

    // MARK: Timers

    private func armWaker() {
        guard !stopped else { return }
        let next = [expiries.earliest, retries.earliest].compactMap { $0 }.min()
        guard let next else { return }
        if let wakerAt, wakerAt <= next, waker != nil { return }
        waker?.cancel()
        wakerAt = next
        let wait = Duration.nanoseconds(max(next - nowNanos(), 1_000_000))
        waker = Task {
            try? await Task.sleep(for: wait)
            guard !Task.isCancelled else { return }
            self.fire()
        }
    }

    private func fire() {
        waker = nil
        wakerAt = nil
        let now = nowNanos()
        var expired: [(id: String, mailbox: String)] = []
        while let entry = expiries.popFirst(dueAt: now) {
            guard let sub = live[entry.id], sub.expiresAt == entry.deadline, let ended = remove(entry.id) else { continue }
            logger.info("subscription expired", metadata: ["mailbox": "\(sub.record.mailbox)", "subscription": "\(entry.id)"])
            expired.append((entry.id, ended.record.mailbox))
            sendFinal(ended.record, cseq: ended.cseq, state: ended.notifiedState ?? MessageWaitingState(), reason: "timeout")
        }
        if !expired.isEmpty {
            let storage = self.storage
            Task { for (id, mailbox) in expired { try? await storage.removeSubscription(id: id, mailbox: mailbox) } }
        }
        while let entry = retries.popFirst(dueAt: now) {
            guard let sub = live[entry.id], sub.retryAt == entry.deadline else { continue }
            sub.retryAt = nil
            let next = sub.pending
            sub.pending = nil
            if let next { offer(entry.id, next) }
        }
        if expiries.count > 2 * live.count + 1024 {
            expiries.compact { [live] in live[$0.id]?.expiresAt != $0.deadline }
        }
        armWaker()
    }
}
