import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SIP

/// Where bytes for one transaction go: a datagram to an address from one of our UDP
/// sockets, or a stream connection.
enum Flow {
    case datagram(any Channel, SocketAddress)
    case stream(ConnectionKey)
}

struct ConnectionKey: Hashable {
    var transport: SIPTransportKind
    var address: SocketAddress
}

/// The state of the SIP layer: listeners, connections, client and server transactions
/// and their single timer queue. Confined to one event loop (every method runs on it),
/// so it needs no locks.
final class TransportCore {
    /// Who hears of a client transaction's outcome: an async caller's promise, or a
    /// callback (dispatchers keeping thousands in flight without a task each).
    enum Completion {
        case promise(EventLoopPromise<SIPMessage>)
        case callback(@Sendable (Result<SIPMessage, SIPTransportError>) -> Void)

        func finish(_ result: Result<SIPMessage, SIPTransportError>) {
            switch self {
            case .promise(let promise): promise.completeWith(result.mapError { $0 as any Error })
            case .callback(let callback): callback(result)
            }
        }
    }

    /// A client transaction in flight, kept small: the request's bytes (for
    /// retransmission) in one array, where it goes, its state and who to tell.
    struct ClientTransaction {
        var state: ClientTransactionState
        var method: SIPMethod
        var bytes: [UInt8]
        var address: SocketAddress
        var transport: SIPTransportKind
        var completion: Completion
        var armed: Int64?
    }

    struct ServerKey: Hashable {
        var branch: String
        var sentBy: String
        var method: SIPMethod
    }

    struct ServerTransaction {
        var state: ServerTransactionState
        var key: ServerKey
        var flow: Flow
        var lastResponse: ByteBuffer?
        var armed: Int64?
    }

    let loop: any EventLoop
    let configuration: SIPEndpointConfiguration
    let logger: Logger
    let router: SIPRequestRouter
    let metrics: SIPTransportMetrics
    var clientTLS: NIOSSLContext?
    var serverTLS: NIOSSLContext?

    var listeners: [(SIPTransportKind, any Channel)] = []
    var udpChannel: (any Channel)?
    var connections: [ConnectionKey: any Channel] = [:]
    var connecting: [ConnectionKey: EventLoopFuture<any Channel>] = [:]
    var inboundConnections = 0
    /// Peers named by host name, resolved (RFC 3263) and kept for their records' TTL.
    struct ResolutionKey: Hashable {
        var host: String
        var port: Int?
        var transport: SIPTransportKind
    }
    var resolver: PeerResolver
    var resolved: [ResolutionKey: (addresses: [SocketAddress], until: NIODeadline)] = [:]
    var resolving: [ResolutionKey: EventLoopFuture<[SocketAddress]>] = [:]
    /// UDP peers watched for ICMP port unreachable (`TransportCore+UnreachablePeers`).
    var unreachableWatches: [SocketAddress: UnreachableWatch] = [:]
    var watchSweepScheduled = false
    struct LiteralKey: Hashable {
        var host: String
        var port: Int
    }
    var literalAddresses: [LiteralKey: SocketAddress] = [:]

    /// Client transactions in flight, by the 64 random bits of their branch (tagged with
    /// `clientTag`, so that they never collide with server transaction ids in the timer
    /// queue): no string is hashed to match a response.
    var clients: [UInt64: ClientTransaction] = [:]
    /// Completed UDP client transactions, kept for Timer K (T4) only as their branch key,
    /// so that a retransmitted final response is absorbed: expiry order is insertion order.
    var completedBranches: Set<UInt64> = []
    var completedOrder = CircularBuffer<(key: UInt64, until: Int64)>()
    static let clientTag: UInt64 = 1 << 63
    var servers: [UInt64: ServerTransaction] = [:]
    var serverIndex: [ServerKey: UInt64] = [:]
    var nextID: UInt64 = 1
    var timers = TimerQueue<UInt64>()
    var wakeUp: Scheduled<Void>?
    var wakeUpAt: Int64?
    /// Channels written to since the last flush: one flush per event-loop tick sends them
    /// together (`sendmmsg` for UDP).
    var unflushed: [ObjectIdentifier: any Channel] = [:]
    var flushScheduled = false
    var shuttingDown = false
    var rng = BufferedSystemRandom()

    init(loop: any EventLoop, configuration: SIPEndpointConfiguration, router: SIPRequestRouter, logger: Logger) {
        self.loop = loop
        self.configuration = configuration
        self.router = router
        self.logger = logger
        metrics = SIPTransportMetrics()
        resolver = PeerResolver(server: nil, queryTimeoutSeconds: max(1, Int(configuration.dnsQueryTimeout.nanoseconds / 1_000_000_000)),
                                longestCacheTime: configuration.resolutionCacheTime.nanoseconds / 1_000_000_000)
    }

    static func now() -> Int64 { Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds) }

    var inFlightClientTransactions: Int { clients.count }
    var inFlightServerTransactions: Int { servers.count }

    // MARK: - Client transactions

    /// Sends a request in a new client transaction; the future holds the final response.
    func send(_ request: SIPMessage, to peer: SIPPeer, timers: SIPTimers) -> EventLoopFuture<SIPMessage> {
        let promise = loop.makePromise(of: SIPMessage.self)
        send(request, to: peer, timers: timers, completion: .promise(promise))
        return promise.futureResult
    }

    /// Sends a request in a new client transaction; `completion` hears of its final
    /// response or its error (on this event loop).
    func send(_ request: SIPMessage, to peer: SIPPeer, timers: SIPTimers, completion: Completion) {
        loop.assertInEventLoop()
        guard !shuttingDown else { return completion.finish(.failure(.shuttingDown)) }
        guard let method = request.method, method != .ack, method != .invite else {
            return completion.finish(.failure(.invalidRequest("only non-INVITE requests start client transactions")))
        }
        // IP literals need no resolution: start at once, without a future in between.
        if let address = literalAddress(peer) {
            return startWatched(request, method: method, peer: peer, address: address, serverName: nil, timers: timers,
                                completion: completion)
        }
        resolve(peer).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let addresses):
                self.attempt(request, method: method, peer: peer, addresses: addresses, index: 0, timers: timers, completion: completion)
            case .failure(let error):
                completion.finish(.failure(error as? SIPTransportError ?? .resolutionFailed(peer.host)))
            }
        }
    }

    /// Sends to a resolved peer's address at `index`; a transport error or a timeout moves
    /// to the next one (RFC 3263 §4.3), and the last one's outcome is the request's.
    private func attempt(_ request: SIPMessage, method: SIPMethod, peer: SIPPeer, addresses: [SocketAddress], index: Int,
                         timers: SIPTimers, completion: Completion) {
        var step = completion
        if index + 1 < addresses.count {
            let core = NIOLoopBound(self, eventLoop: loop)
            step = .callback { result in
                if case .failure(let error) = result, error.movesToNextAddress {
                    core.value.attempt(request, method: method, peer: peer, addresses: addresses, index: index + 1, timers: timers,
                                       completion: completion)
                } else {
                    completion.finish(result)
                }
            }
        }
        startWatched(request, method: method, peer: peer, address: addresses[index], serverName: peer.host, timers: timers,
                     completion: step)
    }

    /// Starts the transaction once a UDP peer that asks for it is watched for ICMP port
    /// unreachable (at once when it is already, or cannot be).
    private func startWatched(_ request: SIPMessage, method: SIPMethod, peer: SIPPeer, address: SocketAddress, serverName: String?,
                              timers: SIPTimers, completion: Completion) {
        if peer.transport == .udp, peer.watchesUnreachable, let ready = watchUnreachable(address) {
            ready.assumeIsolated().whenComplete { _ in
                self.start(request, method: method, transport: peer.transport, address: address, serverName: serverName,
                           timers: timers, existingConnectionOnly: peer.existingConnectionOnly, completion: completion)
            }
            return
        }
        start(request, method: method, transport: peer.transport, address: address, serverName: serverName, timers: timers,
              existingConnectionOnly: peer.existingConnectionOnly, completion: completion)
    }

    /// The socket address of a peer named by an IP literal, made once per peer and shared
    /// by its transactions (a bounded cache: cleared when it grows past 65 536 peers).
    private func literalAddress(_ peer: SIPPeer) -> SocketAddress? {
        let key = LiteralKey(host: peer.host, port: peer.effectivePort)
        if let known = literalAddresses[key] { return known }
        guard let address = try? SocketAddress(ipAddress: peer.host, port: peer.effectivePort) else { return nil }
        if literalAddresses.count >= 65_536 { literalAddresses.removeAll(keepingCapacity: true) }
        literalAddresses[key] = address
        return address
    }

    private func start(_ request: SIPMessage, method: SIPMethod, transport: SIPTransportKind, address: SocketAddress,
                       serverName: String?, timers: SIPTimers, existingConnectionOnly: Bool, completion: Completion) {
        guard let flow = clientFlow(transport, address) else { return completion.finish(.failure(.transportUnavailable(.udp))) }
        if existingConnectionOnly, case .stream(let key) = flow, connections[key]?.isActive != true {
            return completion.finish(.failure(.connectionClosed("no open \(transport) connection to \(address)")))
        }
        // The branch's 64 random bits are the transaction's key (drawn again in the
        // unlikely case they are taken).
        var random = rng.next()
        while clients[random | Self.clientTag] != nil || completedBranches.contains(random) { random = rng.next() }
        let id = random | Self.clientTag
        var request = request
        // This endpoint is the request's first hop: its Via is the only one.
        request.headers.remove(.via)
        request.headers.insert(.via, viaValue(transport: transport, branch: SIPIdentifiers.branch(random)), at: 0)
        let bytes = request.serialize()
        clients[id] = ClientTransaction(
            state: ClientTransactionState(now: Self.now(), reliable: transport.isReliable, timers: timers),
            method: method, bytes: bytes, address: address, transport: transport, completion: completion)
        arm(client: id)
        metrics.clientTransactionsStarted.increment()
        write(ByteBuffer(bytes: bytes), flow: flow, serverName: serverName) { error in
            self.failClient(id, error)
        }
    }

    /// Where a client transaction's bytes go: from the UDP socket, or on the connection
    /// to the address.
    private func clientFlow(_ transport: SIPTransportKind, _ address: SocketAddress) -> Flow? {
        switch transport {
        case .udp: udpChannel.map { .datagram($0, address) }
        case .tcp, .tls: .stream(ConnectionKey(transport: transport, address: address))
        }
    }

    func failClient(_ id: UInt64, _ error: SIPTransportError) {
        guard var tx = clients.removeValue(forKey: id) else { return }
        tx.state.fail()
        metrics.transportErrors.increment()
        tx.completion.finish(.failure(error))
    }

    private func receiveResponse(_ response: SIPMessage) {
        guard let via = try? response.topVia(), let branch = via.branch, let key = SIPIdentifiers.branchKey(branch) else {
            metrics.dropped(.unmatchedResponse)
            return
        }
        let id = key | Self.clientTag
        guard var tx = clients[id], let cseq = try? response.cseq(), cseq.method == tx.method, let status = response.statusCode else {
            // A final response again after the transaction completed: absorbed (Timer K).
            if !completedBranches.contains(key) { metrics.dropped(.unmatchedResponse) }
            return
        }
        let now = Self.now()
        let action = tx.state.receive(statusCode: status, now: now)
        guard action == .final else {
            clients[id] = tx
            return
        }
        clients[id] = nil
        // Timer K: only the branch is kept, to absorb retransmissions of this response.
        if let until = tx.state.nextDeadline, until > now {
            completedBranches.insert(key)
            completedOrder.append((key, until))
        }
        forgetCompleted(now: now)
        tx.completion.finish(.success(response))
    }

    /// Drops the completed branches whose Timer K has fired.
    private func forgetCompleted(now: Int64) {
        while let first = completedOrder.first, first.until <= now {
            completedOrder.removeFirst()
            completedBranches.remove(first.key)
        }
    }

    // MARK: - Server transactions

    func receive(_ message: SIPMessage, transport: SIPTransportKind, source: SocketAddress, flow: Flow) {
        if message.isRequest {
            receiveRequest(message, transport: transport, source: source, flow: flow)
        } else {
            receiveResponse(message)
        }
    }

    private func receiveRequest(_ request: SIPMessage, transport: SIPTransportKind, source: SocketAddress, flow: Flow) {
        guard let method = request.method else { return }
        var request = request
        guard let via = try? request.topVia() else {
            metrics.dropped(.unparseable)
            return
        }
        let responseFlow: Flow
        switch flow {
        case .datagram(let channel, _):
            responseFlow = .datagram(channel, Self.responseAddress(via: via, source: source))
        case .stream:
            responseFlow = flow
        }
        Self.stampReceived(&request, via: via, source: source)
        let key = ServerKey(branch: via.branch ?? Self.legacyKey(request), sentBy: "\(via.host):\(via.port ?? 0)",
                            method: method == .ack ? .invite : method)
        if method == .ack {
            if let id = serverIndex[key], var tx = servers[id] {
                tx.state.receiveAck(now: Self.now())
                servers[id] = tx
                arm(server: id)
            }
            return  // an ACK for a 2xx belongs to a dialog; none are kept here
        }
        if let id = serverIndex[key], let tx = servers[id] {
            metrics.retransmissionsReceived.increment()
            if tx.state.receiveRetransmission() == .resendResponse, let last = tx.lastResponse {
                write(last, flow: tx.flow, serverName: nil) { _ in }
            }
            return
        }
        if shuttingDown {
            let response = request.makeResponse(statusCode: 503, toTag: SIPIdentifiers.tag(using: &rng))
            let bytes = ByteBuffer(bytes: response.serialize())
            write(bytes, flow: responseFlow, serverName: nil) { _ in }
            return
        }
        let id = nextID
        nextID += 1
        servers[id] = ServerTransaction(
            state: ServerTransactionState(isInvite: method == .invite, reliable: transport.isReliable, timers: configuration.timers),
            key: key, flow: responseFlow)
        serverIndex[key] = id
        metrics.serverTransactionsStarted.increment()
        let incoming = SIPIncomingRequest(message: request, transport: transport, source: source)
        let router = self.router
        let loop = self.loop
        let core = NIOLoopBound(self, eventLoop: loop)
        Task {
            let reply = await router.handle(incoming)
            loop.execute {
                core.value.respond(id, reply.response)
                reply.afterSending?()
            }
        }
    }

    private func respond(_ id: UInt64, _ response: SIPMessage) {
        guard var tx = servers[id] else { return }
        let bytes = ByteBuffer(bytes: response.serialize())
        tx.lastResponse = bytes
        tx.state.respond(statusCode: response.statusCode ?? 500, now: Self.now())
        servers[id] = tx
        write(bytes, flow: tx.flow, serverName: nil) { error in
            self.logger.debug("response not delivered", metadata: ["error": "\(error)"])
        }
        if tx.state.phase == .terminated || tx.state.nextDeadline.map({ $0 <= Self.now() }) == true {
            servers[id] = nil
            serverIndex[tx.key] = nil
        } else {
            arm(server: id)
        }
    }

    /// Answers a request that could not be parsed but carried enough to answer.
    func answerParseError(_ error: SIPParseError, transport: SIPTransportKind, source: SocketAddress, flow: Flow) {
        guard error.canRespond, let headers = error.headers else {
            metrics.dropped(.unparseable)
            logger.debug("dropped unparseable SIP message", metadata: ["from": "\(source)", "reason": "\(error.reason)"])
            return
        }
        metrics.badRequestsAnswered.increment()
        let response = SIPMessage.response(to: headers, statusCode: error.statusCode, reasonPhrase: error.reason,
                                           toTag: SIPIdentifiers.tag(using: &rng))
        var responseFlow = flow
        if case .datagram(let channel, _) = flow, let via = try? response.topVia() {
            responseFlow = .datagram(channel, Self.responseAddress(via: via, source: source))
        }
        let bytes = ByteBuffer(bytes: response.serialize())
        write(bytes, flow: responseFlow, serverName: nil) { _ in }
    }

    // MARK: - Timers

    private func arm(client id: UInt64) {
        guard var tx = clients[id], let deadline = tx.state.nextDeadline else { return }
        if let armed = tx.armed, armed <= deadline { return }
        tx.armed = deadline
        clients[id] = tx
        schedule(id, at: deadline)
    }

    private func arm(server id: UInt64) {
        guard var tx = servers[id], let deadline = tx.state.nextDeadline else { return }
        if let armed = tx.armed, armed <= deadline { return }
        tx.armed = deadline
        servers[id] = tx
        schedule(id, at: deadline)
    }

    private func schedule(_ id: UInt64, at deadline: Int64) {
        timers.schedule(id, at: deadline)
        armWakeUp(at: deadline)
    }

    /// Keeps the one wake-up at the earliest deadline, rounded up to the timer
    /// resolution: timers due within one tick fire together, so thousands of
    /// transactions a second cost hundreds of wake-ups, not thousands.
    private func armWakeUp(at deadline: Int64) {
        let tick = max(1, Self.nanoseconds(configuration.timerResolution))
        let target = (max(0, deadline) + tick - 1) / tick * tick
        if let at = wakeUpAt, at <= target { return }
        wakeUp?.cancel()
        wakeUpAt = target
        wakeUp = loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(UInt64(target))) { [self] in
            self.fireTimers()
        }
    }

    static func nanoseconds(_ amount: TimeAmount) -> Int64 { amount.nanoseconds }

    private func fireTimers() {
        wakeUp = nil
        wakeUpAt = nil
        let now = Self.now()
        for entry in timers.popDue(now: now) {
            if var tx = clients[entry.id], tx.armed == entry.deadline {
                tx.armed = nil
                let action = tx.state.tick(now: now)
                clients[entry.id] = tx
                switch action {
                case .retransmit:
                    metrics.retransmissionsSent.increment()
                    let id = entry.id
                    if let flow = clientFlow(tx.transport, tx.address) {
                        write(ByteBuffer(bytes: tx.bytes), flow: flow, serverName: nil) { error in self.failClient(id, error) }
                    }
                    arm(client: entry.id)
                case .timeout:
                    clients[entry.id] = nil
                    metrics.timeouts.increment()
                    tx.completion.finish(.failure(.timeout))
                case .terminated:
                    clients[entry.id] = nil
                case .none, .provisional, .final:
                    arm(client: entry.id)
                }
            } else if var tx = servers[entry.id], tx.armed == entry.deadline {
                tx.armed = nil
                let action = tx.state.tick(now: now)
                servers[entry.id] = tx
                switch action {
                case .resendResponse:
                    if let last = tx.lastResponse { write(last, flow: tx.flow, serverName: nil) { _ in } }
                    arm(server: entry.id)
                case .terminated:
                    servers[entry.id] = nil
                    serverIndex[tx.key] = nil
                case .none:
                    arm(server: entry.id)
                }
            }
        }
        forgetCompleted(now: now)
        if let next = timers.earliest {
            // Re-arm the single wake-up for the earliest remaining deadline (arming above
            // may already have scheduled it).
            armWakeUp(at: next)
        }
    }

    // MARK: - Writing

    /// Writes bytes along a flow, opening a connection when the flow needs one. The
    /// write is flushed at the end of the current event-loop tick, with the others.
    func write(_ bytes: ByteBuffer, flow: Flow, serverName: String?, onError: @escaping (SIPTransportError) -> Void) {
        switch flow {
        case .datagram(let channel, let address):
            let promise = loop.makePromise(of: Void.self)
            channel.write(AddressedEnvelope(remoteAddress: address, data: bytes), promise: promise)
            flushLater(channel)
            promise.futureResult.assumeIsolated().whenFailure { error in onError(Self.transportError(error, address: address)) }
        case .stream(let key):
            if let channel = connections[key], channel.isActive {
                writeStream(bytes, channel: channel, address: key.address, onError: onError)
                return
            }
            connection(for: key, serverName: serverName).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let channel):
                    self.writeStream(bytes, channel: channel, address: key.address, onError: onError)
                case .failure(let error):
                    onError(Self.transportError(error, address: key.address))
                }
            }
        }
    }

    private func writeStream(_ bytes: ByteBuffer, channel: any Channel, address: SocketAddress,
                             onError: @escaping (SIPTransportError) -> Void) {
        let promise = loop.makePromise(of: Void.self)
        channel.write(bytes, promise: promise)
        flushLater(channel)
        promise.futureResult.assumeIsolated().whenFailure { error in onError(Self.transportError(error, address: address)) }
    }

    /// Flushes `channel` once the current tick's work is done.
    private func flushLater(_ channel: any Channel) {
        unflushed[ObjectIdentifier(channel)] = channel
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.assumeIsolated().execute { [self] in
            self.flushScheduled = false
            let channels = self.unflushed
            self.unflushed.removeAll(keepingCapacity: true)
            for channel in channels.values { channel.flush() }
        }
    }

    /// An open connection to the key's address, reusing one when there is one.
    func connection(for key: ConnectionKey, serverName: String?) -> EventLoopFuture<any Channel> {
        if let channel = connections[key], channel.isActive { return loop.makeSucceededFuture(channel) }
        if let pending = connecting[key] { return pending }
        let core = NIOLoopBound(self, eventLoop: loop)
        let tls = key.transport == .tls
        let context = clientTLS
        if tls && context == nil {
            return loop.makeFailedFuture(SIPTransportError.transportUnavailable(.tls))
        }
        let future = ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls, let context {
                        let handler = try NIOSSLClientHandler(context: context, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try core.value.addStreamHandlers(to: channel, transport: key.transport)
                }
            }
            .connect(to: key.address)
        connecting[key] = future
        future.assumeIsolated().whenComplete { result in
            self.connecting[key] = nil
            if case .success(let channel) = result {
                self.connections[key] = channel
                channel.closeFuture.assumeIsolated().whenComplete { _ in
                    if self.connections[key] === channel { self.connections[key] = nil }
                }
            }
        }
        return future
    }

    func addStreamHandlers(to channel: any Channel, transport: SIPTransportKind) throws {
        let core = NIOLoopBound(self, eventLoop: loop)
        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: configuration.idleTimeout))
        try channel.pipeline.syncOperations.addHandler(
            SIPStreamHandler(core: core, transport: transport, limits: configuration.limits, messageTimeout: configuration.messageTimeout,
                             handshakeTimeout: configuration.connectTimeout))
    }

    /// Registers an accepted connection so that requests to that peer reuse it.
    func registerInbound(_ channel: any Channel, transport: SIPTransportKind) -> Bool {
        guard inboundConnections < configuration.maxInboundConnections, let remote = channel.remoteAddress else {
            metrics.dropped(.connectionLimit)
            return false
        }
        inboundConnections += 1
        let key = ConnectionKey(transport: transport, address: remote)
        connections[key] = channel
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            self.inboundConnections -= 1
            if self.connections[key] === channel { self.connections[key] = nil }
        }
        return true
    }

    /// A stream connection failed or closed: transactions waiting on it fail at once.
    func connectionFailed(_ key: ConnectionKey, error: SIPTransportError) {
        let ids = clients.filter { _, tx in
            tx.transport == key.transport && tx.address == key.address && (tx.state.phase == .trying || tx.state.phase == .proceeding)
        }.map(\.key)
        for id in ids { failClient(id, error) }
    }

    // MARK: - Addresses

    private func viaValue(transport: SIPTransportKind, branch: String) -> String {
        let (host, port) = localSentBy(transport)
        return "SIP/2.0/\(transport.viaName) \(host):\(port);branch=\(branch);rport"
    }

    /// The host and port written in Via and Contact for a transport.
    func localSentBy(_ transport: SIPTransportKind) -> (String, Int) {
        let listener = listeners.first { $0.0 == transport }?.1 ?? listeners.first?.1
        let address = listener?.localAddress
        let port = address?.port ?? transport.defaultPort
        if let advertised = configuration.advertisedHost { return (advertised, port) }
        guard let ip = address?.ipAddress else { return ("127.0.0.1", port) }
        return (ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]" : ip, port)
    }

    /// RFC 3261 §18.2.2 with RFC 3581: the source address, and the source port when the
    /// client asked for `rport`, else the Via port (5060 by default).
    static func responseAddress(via: SIPVia, source: SocketAddress) -> SocketAddress {
        if via.rportRequested { return source }
        var address = source
        address.port = Int(via.port ?? 5060)
        return address
    }

    /// Adds `received` (and fills `rport`) in the top Via of a request (RFC 3261 §18.2.1).
    static func stampReceived(_ request: inout SIPMessage, via: SIPVia, source: SocketAddress) {
        guard let ip = source.ipAddress else { return }
        var stamped = via
        var changed = false
        let host = via.host.hasPrefix("[") ? String(via.host.dropFirst().dropLast()) : via.host
        if host != ip {
            stamped.received = ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]" : ip
            changed = true
        }
        if via.rportRequested, via.rport == nil, let port = source.port {
            stamped.rport = UInt16(port)
            changed = true
        }
        guard changed, let index = request.headers.firstIndex(of: .via) else { return }
        let value = request.headers.value(at: index)
        let rest = (try? splitTopVia(value)) ?? nil
        request.headers.remove(at: index)
        request.headers.insert(.via, rest.map { stamped.description + ", " + $0 } ?? stamped.description, at: index)
    }

    /// The part of a Via field after its first element, if any.
    static func splitTopVia(_ value: String) throws -> String? {
        let parts = try SIPHeaders.listElements(value)
        return parts.count > 1 ? parts.dropFirst().joined(separator: ", ") : nil
    }

    /// A key for requests without an RFC 3261 branch (RFC 2543 peers).
    static func legacyKey(_ request: SIPMessage) -> String {
        "\(request.callID ?? "")|\(request.headers.first(.cseq) ?? "")|\((try? request.from())??.tag ?? "")"
    }

    /// Resolves a peer named by host name to the addresses to try, in order (RFC 3263:
    /// `PeerResolver` on a thread pool), kept for the records' TTL; concurrent requests
    /// for one name share a look-up. `send` takes IP literals directly.
    func resolve(_ peer: SIPPeer) -> EventLoopFuture<[SocketAddress]> {
        let key = ResolutionKey(host: peer.host, port: peer.port, transport: peer.transport)
        if let cached = resolved[key], cached.until > .now() { return loop.makeSucceededFuture(cached.addresses) }
        if let pending = resolving[key] { return pending }
        let resolver = self.resolver
        let future = NIOThreadPool.singleton.runIfActive(eventLoop: loop) { () throws -> PeerResolver.Resolution in
            try resolver.resolve(host: key.host, port: key.port, transport: key.transport)
        }.flatMapErrorThrowing { error -> PeerResolver.Resolution in
            throw error as? SIPTransportError ?? .resolutionFailed(key.host)
        }.assumeIsolated().map { resolution in
            if self.resolved.count >= 65_536 { self.resolved.removeAll(keepingCapacity: true) }
            if resolution.ttl > 0 { self.resolved[key] = (resolution.addresses, .now() + .seconds(resolution.ttl)) }
            return resolution.addresses
        }.nonisolated()
        resolving[key] = future
        future.assumeIsolated().whenComplete { _ in self.resolving[key] = nil }
        return future
    }

    static func transportError(_ error: any Error, address: SocketAddress) -> SIPTransportError {
        switch error {
        case let e as SIPTransportError:
            return e
        case let io as IOError:
            switch io.errnoCode {
            case ECONNREFUSED: return .connectionRefused("\(address)")
            case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ETIMEDOUT: return .unreachable("\(address)")
            default: return .connectionClosed("\(address): \(io)")
            }
        case let e as NIOConnectionError:
            if let first = e.connectionErrors.first?.error { return transportError(first, address: address) }
            return .unreachable("\(address)")
        case ChannelError.connectTimeout:
            return .unreachable("\(address): connect timeout")
        case is NIOSSLError, is BoringSSLError:
            return .tlsFailure("\(address): \(error)")
        default:
            return .connectionClosed("\(address): \(error)")
        }
    }
}
