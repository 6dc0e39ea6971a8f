import NIOCore
import NIOPosix

/// ICMP "port unreachable" for UDP peers (RFC 3261 §18.4: a transport error ends the
/// client transaction at once, so that a caller fails over instead of waiting for
/// Timer F).
///
/// The kernel reports ICMP errors only to a *connected* UDP socket, and our requests
/// leave from the unconnected listener. So for each UDP peer that client transactions go
/// to, the core keeps a watch socket: bound to the listener's own address (both have
/// `SO_REUSEADDR`) and connected to the peer. Linux hands a connected socket the
/// datagrams of its 4-tuple in preference to the listener, and looks up the socket for
/// an ICMP error the same way, so the watch socket hears both the peer's answers (read as
/// the listener's: answers leave from the listener) and `ECONNREFUSED` when our
/// datagrams reach a closed port. Watches are few (`unreachableWatchLimit`, peers that
/// ask for them: gateways, not every subscribed phone) and closed when idle.
extension TransportCore {
    struct UnreachableWatch {
        var channel: (any Channel)?
        var ready: EventLoopFuture<Void>?
        var lastUsed: Int64
    }

    /// Makes sure the UDP peer at `address` is watched. Returns a future when a watch is
    /// being opened (start the transaction once it completes, whatever its outcome), nil
    /// when there is nothing to wait for: watched already, or not watchable (the limit
    /// reached, no UDP listener, another address family).
    func watchUnreachable(_ address: SocketAddress) -> EventLoopFuture<Void>? {
        let now = Self.now()
        if var watch = unreachableWatches[address] {
            watch.lastUsed = now
            unreachableWatches[address] = watch
            return watch.ready
        }
        guard unreachableWatches.count < configuration.unreachableWatchLimit, let listener = udpChannel,
              let local = listener.localAddress, local.protocol == address.protocol else { return nil }
        // Registered before the bind, which may complete at once.
        unreachableWatches[address] = UnreachableWatch(channel: nil, ready: nil, lastUsed: now)
        let core = NIOLoopBound(self, eventLoop: loop)
        let limits = configuration.limits
        let watchedPeer = SIPDatagramHandler.Watch(listener: listener, peer: address)
        let opened = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // The peer's answers arrive here now: the listener's buffer, or a burst of
            // them overflows the default one and costs retransmissions.
            .channelOption(.socketOption(.so_rcvbuf), value: SIPEndpoint.udpReceiveBuffer)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.recvAllocator, value: SIPEndpoint.udpReadBuffer)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SIPDatagramHandler(core: core, limits: limits, watch: watchedPeer))
                }
            }
            .bind(to: local)
            .flatMap { channel in
                // Until it is connected the socket reads like the listener (its datagrams
                // are handled all the same); a failed connect closes it.
                channel.connect(to: address).map { channel }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
        let ready = opened.assumeIsolated().map { channel -> Void in
            if self.shuttingDown || self.unreachableWatches[address] == nil {
                channel.close(promise: nil)
                return
            }
            self.unreachableWatches[address]?.channel = channel
            self.unreachableWatches[address]?.ready = nil
            channel.closeFuture.assumeIsolated().whenComplete { _ in
                if self.unreachableWatches[address]?.channel === channel { self.unreachableWatches[address] = nil }
            }
            self.scheduleWatchSweep()
        }.recover { error in
            // Not watched: the peer's transactions run as before, ended by Timer F.
            self.logger.debug("cannot watch UDP peer", metadata: ["peer": "\(address)", "error": "\(error)"])
            self.unreachableWatches[address] = nil
        }.nonisolated()
        if unreachableWatches[address]?.channel == nil { unreachableWatches[address]?.ready = ready }
        return ready
    }

    /// An ICMP port unreachable came back from a watched peer: its UDP client
    /// transactions still waiting for an answer fail at once.
    func udpPeerRefused(_ address: SocketAddress) {
        metrics.unreachableReports.increment()
        let ids = clients.filter { _, tx in
            tx.transport == .udp && tx.address == address && (tx.state.phase == .trying || tx.state.phase == .proceeding)
        }.map(\.key)
        logger.debug("UDP peer refused", metadata: ["peer": "\(address)", "transactions": "\(ids.count)"])
        for id in ids { failClient(id, .connectionRefused("\(address): port unreachable (ICMP)")) }
    }

    /// Closes, every idle timeout, the watches no transaction used during the last one.
    private func scheduleWatchSweep() {
        guard !watchSweepScheduled else { return }
        watchSweepScheduled = true
        loop.assumeIsolated().scheduleTask(in: configuration.idleTimeout) { [self] in
            self.watchSweepScheduled = false
            let idleSince = Self.now() - Self.nanoseconds(self.configuration.idleTimeout)
            for (address, watch) in self.unreachableWatches where watch.lastUsed < idleSince {
                watch.channel?.close(promise: nil)
                self.unreachableWatches[address] = nil
            }
            if !self.unreachableWatches.isEmpty { self.scheduleWatchSweep() }
        }
    }

    /// The open watch sockets (closed at shutdown).
    var unreachableWatchChannels: [any Channel] { unreachableWatches.values.compactMap(\.channel) }
}
