public import Logging
public import NIOCore
public import NIOPosix
import NIOSSL
public import SIP

/// mwid's SIP endpoint: UDP, TCP and TLS listeners, outbound connections, and RFC 3261
/// transactions, behind two calls — `send(_:to:)` for a request that needs a final
/// response, and a router for requests that arrive.
///
/// Everything runs on one event loop: the transaction tables and the one timer queue that
/// drives every retransmission and timeout live there.
public final class SIPEndpoint: Sendable {
    public let configuration: SIPEndpointConfiguration
    public let eventLoop: any EventLoop
    private let core: NIOLoopBoundBox<TransportCore>

    public init(configuration: SIPEndpointConfiguration, router: SIPRequestRouter,
                eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(), logger: Logger = Logger(label: "mwid.sip")) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        core = NIOLoopBoundBox.makeBoxSendingValue(
            TransportCore(loop: eventLoop, configuration: configuration, router: router, logger: logger), eventLoop: eventLoop)
    }

    /// The receive buffer of UDP sockets (the listener's and its peers' watch sockets):
    /// room for bursts of answers to thousands of requests in flight.
    static let udpReceiveBuffer: SocketOptionValue = 4 * 1024 * 1024

    /// Each UDP read has room for the largest datagram (65 507 bytes of payload). NIO's
    /// default for datagram channels is 2 048 bytes: it silently cut longer requests (a
    /// long Route set, a large body), which then lost their last headers.
    static var udpReadBuffer: FixedSizeRecvByteBufferAllocator { FixedSizeRecvByteBufferAllocator(capacity: 65_536) }

    /// Binds every configured listener. Throws when an address is in use or invalid, or
    /// when TLS files cannot be loaded.
    public func start() async throws {
        let configuration = self.configuration
        let core = self.core
        let loop = eventLoop
        var udpAddresses: [SocketAddress] = []
        var tcpAddresses: [SocketAddress] = []
        var tlsAddresses: [SocketAddress] = []
        for l in configuration.udp { udpAddresses.append(try SIPEndpointConfiguration.socketAddress(l)) }
        for l in configuration.tcp { tcpAddresses.append(try SIPEndpointConfiguration.socketAddress(l)) }
        for l in configuration.tls { tlsAddresses.append(try SIPEndpointConfiguration.socketAddress(l)) }
        let serverTLS = tlsAddresses.isEmpty ? nil : try (configuration.tlsConfiguration ?? SIPTLSConfiguration()).makeServerContext()
        let clientTLS = try (configuration.tlsConfiguration ?? SIPTLSConfiguration()).makeClientContext()
        let dnsServer = try configuration.dnsServerAddress()
        try await loop.submit {
            core.value.serverTLS = serverTLS
            core.value.clientTLS = clientTLS
            core.value.resolver.server = dnsServer
        }.get()

        for address in udpAddresses {
            let channel = try await bind {
                try await DatagramBootstrap(group: loop)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.socketOption(.so_rcvbuf), value: Self.udpReceiveBuffer)
                    .channelOption(.socketOption(.so_sndbuf), value: 4 * 1024 * 1024)
                    // Under load, read several datagrams per wake-up.
                    .channelOption(.maxMessagesPerRead, value: 16)
                    .channelOption(.recvAllocator, value: Self.udpReadBuffer)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                SIPDatagramHandler(core: NIOLoopBound(core.value, eventLoop: channel.eventLoop), limits: configuration.limits))
                        }
                    }
                    .bind(to: address).get()
            } address: { "udp \(address)" }
            try await loop.submit {
                core.value.listeners.append((.udp, channel))
                if core.value.udpChannel == nil { core.value.udpChannel = channel }
            }.get()
        }
        for (kind, addresses) in [(SIPTransportKind.tcp, tcpAddresses), (.tls, tlsAddresses)] {
            for address in addresses {
                let channel = try await bind {
                    try await ServerBootstrap(group: loop)
                        .serverChannelOption(.backlog, value: 1024)
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                        .childChannelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                guard core.value.registerInbound(channel, transport: kind) else {
                                    channel.close(promise: nil)
                                    return
                                }
                                if kind == .tls, let context = serverTLS {
                                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                                }
                                try core.value.addStreamHandlers(to: channel, transport: kind)
                            }
                        }
                        .bind(to: address).get()
                } address: { "\(kind) \(address)" }
                try await loop.submit { core.value.listeners.append((kind, channel)) }.get()
            }
        }
    }

    private func bind(_ body: () async throws -> any Channel, address: () -> String) async throws -> any Channel {
        do {
            return try await body()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw SIPConfigurationError("SIP \(address()): address already in use")
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw SIPConfigurationError("SIP \(address()): address not available on this machine")
        } catch let error as IOError where error.errnoCode == EACCES {
            throw SIPConfigurationError("SIP \(address()): permission denied")
        }
    }

    /// The bound address of each listener (with the real port when 0 was asked).
    public func localAddresses() async -> [(SIPTransportKind, SocketAddress)] {
        let core = self.core
        return (try? await eventLoop.submit {
            core.value.listeners.compactMap { kind, channel in channel.localAddress.map { (kind, $0) } }
        }.get()) ?? []
    }

    /// The first bound address for a transport.
    public func localAddress(_ transport: SIPTransportKind) async -> SocketAddress? {
        await localAddresses().first { $0.0 == transport }?.1
    }

    /// `host:port` to write in Via and Contact for a transport.
    public func sentBy(_ transport: SIPTransportKind) async -> (host: String, port: Int) {
        let core = self.core
        return (try? await eventLoop.submit { core.value.localSentBy(transport) }.get()) ?? ("127.0.0.1", transport.defaultPort)
    }

    /// Sends a request in a client transaction and returns its final response
    /// (any status, 2xx to 6xx). The transport writes the request's Via (replacing any)
    /// with its sent-by, the transport, a new branch and `rport`.
    /// Throws `SIPTransportError` on timeout (Timer F) and at once on a transport error
    /// (connection refused, TLS failure, unresolvable name), so a caller can fail over.
    public func send(_ request: SIPMessage, to peer: SIPPeer, timers: SIPTimers? = nil) async throws(SIPTransportError) -> SIPMessage {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<SIPMessage, SIPTransportError>, Never>) in
            send(request, to: peer, timers: timers) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// The same as `send(_:to:timers:)` without a task per request: `completion` runs on
    /// the endpoint's event loop with the final response or the transport error. For
    /// callers that keep thousands of requests in flight (dispatchers, benchmarks).
    public func send(_ request: SIPMessage, to peer: SIPPeer, timers: SIPTimers? = nil,
                     completion: @escaping @Sendable (Result<SIPMessage, SIPTransportError>) -> Void) {
        let core = self.core
        let timers = timers ?? configuration.timers
        if eventLoop.inEventLoop {
            core.value.send(request, to: peer, timers: timers, completion: .callback(completion))
        } else {
            eventLoop.execute { core.value.send(request, to: peer, timers: timers, completion: .callback(completion)) }
        }
    }

    /// Client and server transactions in flight (for metrics and tests).
    public func transactionCounts() async -> (client: Int, server: Int) {
        let core = self.core
        return (try? await eventLoop.submit { (core.value.inFlightClientTransactions, core.value.inFlightServerTransactions) }.get()) ?? (0, 0)
    }

    /// The receive buffer of the UDP listener and of each open watch socket, as the kernel
    /// reports them (for tests: a watch socket must hold bursts of answers as the listener does).
    func udpReceiveBufferSizes() async -> (listener: Int, watches: [Int]) {
        let core = self.core
        let channels: (listener: (any Channel)?, watches: [any Channel]) =
            (try? await eventLoop.submit { (core.value.udpChannel, core.value.unreachableWatchChannels) }.get()) ?? (nil, [])
        func size(_ channel: (any Channel)?) async -> Int {
            guard let channel else { return 0 }
            return Int((try? await channel.getOption(.socketOption(.so_rcvbuf)).get()) ?? 0)
        }
        var watches: [Int] = []
        for watch in channels.watches { watches.append(await size(watch)) }
        return (await size(channels.listener), watches)
    }

    /// Closes listeners and connections; requests in flight fail with `.shuttingDown`.
    public func shutdown() async {
        let core = self.core
        let channels: [any Channel] = (try? await eventLoop.submit {
            core.value.shuttingDown = true
            return core.value.listeners.map(\.1) + Array(core.value.connections.values) + core.value.unreachableWatchChannels
        }.get()) ?? []
        for channel in channels {
            try? await channel.close()
        }
        try? await eventLoop.submit {
            let pending = core.value.clients
            core.value.clients = [:]
            for tx in pending.values { tx.completion.finish(.failure(.shuttingDown)) }
            core.value.wakeUp?.cancel()
        }.get()
    }
}
