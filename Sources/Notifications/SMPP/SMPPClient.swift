public import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
public import UnifiedMessaging

/// The intervals of an SMPP bind; tests shorten them.
public struct SMPPTimers: Sendable, Hashable {
    public var connectTimeout: Duration = .seconds(5)
    /// A request without its response after this long: the link is taken for dead.
    public var responseTimeout: Duration = .seconds(10)
    /// The first wait before connecting again after a failure; it doubles up to the maximum.
    public var reconnectBackoff: Duration = .milliseconds(500)
    public var maximumReconnectBackoff: Duration = .seconds(30)
    /// After `ESME_RTHROTTLED` the bind pauses this long (doubling, at most 8 times as long).
    public var throttleDelay: Duration = .seconds(1)
    /// Throttled answers in a row before the text is put back in the queue.
    public var throttleRetries = 10
    /// `enquire_link` when the bind has been idle this long (nil: the route's interval).
    public var enquireLinkInterval: Duration?

    public init() {}
}

/// An ESME: one SMPP 3.4 bind (transmitter or transceiver) to an SMSC over TCP, with TLS
/// when the route says so. Submits go out with at most `window` requests awaiting their
/// responses; `ESME_RTHROTTLED` pauses the whole bind; `enquire_link` keeps an idle bind
/// alive and finds a dead one; a lost connection is made again with back-off, on demand.
/// Delivery receipts (deliver_sm) are acknowledged and handed to `onReceipt`.
public actor SMPPClient {
    public let route: SMSRoute
    private let timers: SMPPTimers
    private let onReceipt: @Sendable (_ messageID: String, _ delivered: Bool, _ state: String) async -> Void
    private let logger: Logger
    private let tls: NIOSSLContext?

    private struct Link {
        let generation: Int
        let channel: any Channel
        let writer: NIOAsyncChannelOutboundWriter<SMPPPDU>
    }

    private enum RequestResult {
        case response(SMPPPDU)
        /// The connection went before the response: the SMSC may have taken it.
        case lost(String)
        /// Never written.
        case notSent(String)
        case timedOut
    }

    private struct Pending {
        let continuation: CheckedContinuation<RequestResult, Never>
        let deadline: ContinuousClock.Instant
    }

    private var link: Link?
    private var bound = false
    private var connecting: [CheckedContinuation<Result<Void, SMPPLinkError>, Never>]?
    private var generation = 0
    private var nextAttempt: ContinuousClock.Instant?
    private var backoff: Duration
    private var lastError = ""
    private var sequence: UInt32 = 0
    private var pending: [UInt32: Pending] = [:]
    private var windowUsed = 0
    private var windowWaiters: [CheckedContinuation<Void, Never>] = []
    private var throttledUntil: ContinuousClock.Instant?
    private var lastActivity = ContinuousClock.now
    private var closed = false
    private var housekeeping: Task<Void, Never>?

    private let submits: Counter
    private let throttles: Counter
    private let reconnects: Counter
    private let enquireLinks: Counter
    private let enquireLinksUnanswered: Counter

    struct SMPPLinkError: Error {
        let message: String
    }

    public init(route: SMSRoute, timers: SMPPTimers = SMPPTimers(), logger: Logger = Logger(label: "mwid.sms.smpp"),
                onReceipt: @escaping @Sendable (_ messageID: String, _ delivered: Bool, _ state: String) async -> Void = { _, _, _ in })
        throws {
        self.route = route
        self.timers = timers
        self.onReceipt = onReceipt
        var logger = logger
        logger[metadataKey: "route"] = "\(route.name)"
        self.logger = logger
        backoff = timers.reconnectBackoff
        if route.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let file = route.caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file)) }
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
        submits = Counter(label: "mwid_sms_smpp_submits_total", dimensions: [("route", route.name)])
        throttles = Counter(label: "mwid_sms_smpp_throttled_total", dimensions: [("route", route.name)])
        reconnects = Counter(label: "mwid_sms_smpp_binds_total", dimensions: [("route", route.name)])
        enquireLinks = Counter(label: "mwid_sms_smpp_enquire_links_total", dimensions: [("route", route.name), ("result", "answered")])
        enquireLinksUnanswered = Counter(label: "mwid_sms_smpp_enquire_links_total",
                                         dimensions: [("route", route.name), ("result", "unanswered")])
    }

    /// Whether a bind is up now.
    public var isBound: Bool { bound }

    // MARK: Submitting

    /// Submits the parts of `text` from `partsSent` on, in order, to `number` (E.164).
    public func submit(_ text: SMSText, to number: String, reference: UInt8, partsSent: Int) async -> SMSSendOutcome {
        let parts = SMPPBody.parts(of: text, reference: reference)
        var ids: [String] = []
        var accepted = 0
        let source = route.sourceAddress ?? "mwid"
        func stop(_ failure: SMSSendOutcome.Failure) -> SMSSendOutcome {
            SMSSendOutcome(accepted: accepted, messageIDs: ids, failure: failure)
        }
        for (udh, payload) in parts.dropFirst(max(0, partsSent)) {
            var throttled = 0
            while true {
                if case .failure(let error) = await ensureBound() { return stop(.temporary(error.message)) }
                await acquireWindow()
                await waitOutThrottle()
                let body = SMPPBody.submitSM(source: source, destination: number, coding: text.coding, payload: payload, udh: udh,
                                             registeredDelivery: route.bind == .transceiver)
                let result = await request(SMPPCommand.submitSM, body: body)
                releaseWindow()
                switch result {
                case .notSent(let why):
                    return stop(.temporary(why))
                case .lost(let why):
                    return stop(.unknown("the connection to the SMSC was lost before it answered a submit_sm: \(why)"))
                case .timedOut:
                    return stop(.unknown("the SMSC did not answer a submit_sm in time"))
                case .response(let response):
                    let status = response.status
                    if status == SMPPStatus.ok {
                        submits.increment()
                        ids.append(SMPPBody.messageID(response.body))
                        accepted += 1
                    } else if status == SMPPStatus.throttled {
                        throttles.increment()
                        throttled += 1
                        guard throttled <= timers.throttleRetries else {
                            return stop(.temporary("the SMSC kept answering ESME_RTHROTTLED (\(throttled) times)"))
                        }
                        throttle(times: throttled)
                        continue
                    } else {
                        let what = response.command == SMPPCommand.genericNack ? "generic_nack" : "submit_sm_resp"
                        let reason = "the SMSC answered \(what) \(SMPPStatus.name(status))"
                        return stop(SMPPStatus.isTemporary(status) ? .temporary(reason) : .permanent(reason))
                    }
                }
                break
            }
        }
        return SMSSendOutcome(accepted: accepted, messageIDs: ids)
    }

    private func acquireWindow() async {
        if windowUsed < route.window {
            windowUsed += 1
            return
        }
        await withCheckedContinuation { windowWaiters.append($0) }
    }

    private func releaseWindow() {
        if windowWaiters.isEmpty {
            windowUsed -= 1
        } else {
            windowWaiters.removeFirst().resume()  // the slot passes to the next waiter
        }
    }

    private func throttle(times: Int) {
        let factor = Int64(1) << Int64(min(times - 1, 3))
        let until = ContinuousClock.now + timers.throttleDelay * Int(factor)
        if throttledUntil.map({ $0 < until }) ?? true { throttledUntil = until }
        logger.info("SMSC throttling: pausing submits", metadata: ["for": "\(timers.throttleDelay * Int(factor))"])
    }

    private func waitOutThrottle() async {
        while let until = throttledUntil, until > .now {
            try? await Task.sleep(until: until, clock: .continuous)
        }
        throttledUntil = nil
    }

    /// Writes one request and waits for its response (or the link's loss, or the timeout).
    private func request(_ command: UInt32, body: [UInt8], timeout: Duration? = nil) async -> RequestResult {
        guard let link, bound || command != SMPPCommand.submitSM else { return .notSent("not bound to the SMSC") }
        sequence = sequence >= 0x7FFF_FFFF ? 1 : sequence + 1
        let number = sequence
        let pdu = SMPPPDU(command: command, sequence: number, body: body)
        lastActivity = .now
        return await withCheckedContinuation { continuation in
            pending[number] = Pending(continuation: continuation, deadline: .now + (timeout ?? timers.responseTimeout))
            Task {
                do {
                    try await link.writer.write(pdu)
                } catch {
                    self.resolve(number, .notSent("cannot write to the SMSC: \(error)"))
                }
            }
        }
    }

    private func resolve(_ sequence: UInt32, _ result: RequestResult) {
        pending.removeValue(forKey: sequence)?.continuation.resume(returning: result)
    }

    // MARK: The link

    /// A bound link, connecting and binding when there is none (not before the back-off
    /// after the last failure has passed).
    private func ensureBound() async -> Result<Void, SMPPLinkError> {
        if bound { return .success(()) }
        if closed { return .failure(SMPPLinkError(message: "the route is being closed")) }
        if connecting != nil {
            return await withCheckedContinuation { connecting?.append($0) }
        }
        if let next = nextAttempt, next > .now {
            let left = next - .now
            return .failure(SMPPLinkError(message: "no bind to the SMSC (\(lastError)); next try in \(Self.show(left))"))
        }
        connecting = []
        let result = await connectAndBind()
        let waiters = connecting ?? []
        connecting = nil
        switch result {
        case .success:
            backoff = timers.reconnectBackoff
            nextAttempt = nil
        case .failure(let error):
            lastError = error.message
            nextAttempt = .now + backoff
            backoff = min(backoff * 2, timers.maximumReconnectBackoff)
            logger.warning("cannot bind to the SMSC", metadata: ["error": "\(error.message)"])
        }
        for waiter in waiters { waiter.resume(returning: result) }
        return result
    }

    private func connectAndBind() async -> Result<Void, SMPPLinkError> {
        let host = route.host ?? "127.0.0.1", port = route.port ?? 2775
        let tls = self.tls
        let serverName = DirectoryValidation.isIPv4(host) || DirectoryValidation.isIPv6(host) ? nil : host
        let channel: NIOAsyncChannel<SMPPPDU, SMPPPDU>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(timers.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMPPFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(SMPPFrameEncoder()))
                        return try NIOAsyncChannel<SMPPPDU, SMPPPDU>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return .failure(SMPPLinkError(message: "cannot connect to \(host):\(port): \(error)"))
        }
        generation += 1
        let generation = self.generation
        let attached = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ready = ReadySignal(continuation)
            Task {
                do {
                    try await channel.executeThenClose { inbound, outbound in
                        self.attach(Link(generation: generation, channel: channel.channel, writer: outbound), ready)
                        for try await pdu in inbound { await self.received(pdu, generation: generation) }
                    }
                    self.detach(generation: generation, reason: "the SMSC closed the connection")
                } catch {
                    self.detach(generation: generation, reason: "\(error)")
                }
                ready.fire(false)
            }
        }
        guard attached, link?.generation == generation else {
            return .failure(SMPPLinkError(message: "the connection to \(host):\(port) closed at once"))
        }
        let command = route.bind == .transceiver ? SMPPCommand.bindTransceiver : SMPPCommand.bindTransmitter
        let body = SMPPBody.bind(systemID: route.systemId ?? "", password: route.password ?? "", systemType: route.systemType ?? "")
        switch await request(command, body: body) {
        case .response(let response) where response.status == SMPPStatus.ok:
            bound = true
            reconnects.increment()
            startHousekeeping(generation: generation)
            logger.info("bound to the SMSC", metadata: ["smsc": "\(host):\(port)", "as": "\(route.bind)",
                                                        "system": "\(SMPPBody.messageID(response.body))"])
            return .success(())
        case .response(let response):
            closeLink(reason: "bind refused")
            return .failure(SMPPLinkError(message: "the SMSC refused the bind: \(SMPPStatus.name(response.status))"))
        case .lost(let why), .notSent(let why):
            closeLink(reason: why)
            return .failure(SMPPLinkError(message: "the connection went during the bind: \(why)"))
        case .timedOut:
            closeLink(reason: "bind timed out")
            return .failure(SMPPLinkError(message: "the SMSC did not answer the bind in time"))
        }
    }

    private func attach(_ link: Link, _ ready: ReadySignal) {
        guard link.generation == generation, !closed else {
            link.channel.close(promise: nil)
            ready.fire(false)
            return
        }
        self.link = link
        lastActivity = .now
        ready.fire(true)
    }

    private func detach(generation: Int, reason: String) {
        guard generation == self.generation, link != nil else { return }
        if bound && !closed { logger.warning("SMPP link lost", metadata: ["reason": "\(reason)"]) }
        link = nil
        bound = false
        housekeeping?.cancel()
        housekeeping = nil
        for (number, _) in pending { resolve(number, .lost(reason)) }
    }

    private func closeLink(reason: String) {
        let channel = link?.channel
        detach(generation: generation, reason: reason)
        channel?.close(promise: nil)
    }

    /// While bound: answers expire, and an idle link is probed with enquire_link.
    private func startHousekeeping(generation: Int) {
        housekeeping?.cancel()
        let tick = min(timers.responseTimeout / 4, .milliseconds(250))
        housekeeping = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                self.housekeep(generation: generation)
            }
        }
    }

    private func housekeep(generation: Int) {
        guard generation == self.generation, bound else { return }
        let now = ContinuousClock.now
        if pending.values.contains(where: { $0.deadline <= now }) {
            let late = pending.filter { $0.value.deadline <= now }.map(\.key)
            for number in late { resolve(number, .timedOut) }
            logger.warning("the SMSC stopped answering: closing the bind", metadata: ["unanswered": "\(late.count)"])
            closeLink(reason: "no answer in \(Self.show(timers.responseTimeout))")
            return
        }
        let interval = timers.enquireLinkInterval ?? .seconds(route.enquireLinkInterval)
        if now - lastActivity >= interval {
            lastActivity = now
            Task {
                switch await self.request(SMPPCommand.enquireLink, body: []) {
                case .timedOut:
                    self.enquireLinksUnanswered.increment()
                    self.closeLink(reason: "enquire_link unanswered")
                case .response:
                    self.enquireLinks.increment()
                default:
                    break
                }
            }
        }
    }

    // MARK: What the SMSC sends

    private func received(_ pdu: SMPPPDU, generation: Int) async {
        guard generation == self.generation, let link else { return }
        lastActivity = .now
        if pdu.isResponse {
            guard pending[pdu.sequence] != nil else {
                logger.debug("SMPP response to no request", metadata: ["command": "\(SMPPCommand.name(pdu.command))"])
                return
            }
            resolve(pdu.sequence, .response(pdu))
            return
        }
        switch pdu.command {
        case SMPPCommand.enquireLink:
            await write(SMPPPDU(command: SMPPCommand.response(to: pdu.command), sequence: pdu.sequence), on: link)
        case SMPPCommand.deliverSM:
            // Acknowledged first: the SMSC must not redeliver it whatever mwid makes of it.
            await write(SMPPPDU(command: SMPPCommand.response(to: pdu.command), sequence: pdu.sequence, body: [0]), on: link)
            do {
                let deliver = try SMPPBody.deliver(pdu.body)
                if deliver.isReceipt, let receipt = SMPPBody.receipt(deliver) {
                    await onReceipt(receipt.messageID, receipt.delivered, receipt.state)
                } else {
                    logger.debug("deliver_sm that is not a delivery receipt ignored")
                }
            } catch {
                logger.warning("unreadable deliver_sm", metadata: ["error": "\(error)"])
            }
        case SMPPCommand.unbind:
            await write(SMPPPDU(command: SMPPCommand.response(to: pdu.command), sequence: pdu.sequence), on: link)
            logger.info("the SMSC unbound")
            closeLink(reason: "the SMSC unbound")
        default:
            await write(SMPPPDU(command: SMPPCommand.genericNack, status: SMPPStatus.invalidCommandID, sequence: pdu.sequence), on: link)
        }
    }

    /// Answers to the SMSC go out in the order its requests came.
    private nonisolated func write(_ pdu: SMPPPDU, on link: Link) async {
        try? await link.writer.write(pdu)
    }

    /// Unbinds (briefly waiting for the answer) and closes; no reconnection after.
    public func close() async {
        closed = true
        if bound { _ = await request(SMPPCommand.unbind, body: [], timeout: .seconds(1)) }
        closeLink(reason: "closed")
        for waiter in windowWaiters { waiter.resume() }
        windowWaiters = []
    }

    static func show(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return ms >= 1000 ? "\(Double(ms) / 1000) s" : "\(ms) ms"
    }
}

/// Resumes a waiter once, whichever of several paths gets there first.
final class ReadySignal: Sendable {
    private let waiter: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) { waiter = Mutex(continuation) }

    func fire(_ value: Bool) {
        waiter.withLock { waiting -> CheckedContinuation<Bool, Never>? in
            defer { waiting = nil }
            return waiting
        }?.resume(returning: value)
    }
}
