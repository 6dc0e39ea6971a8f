import NIOCore
import NIOSSL
import NIOTLS
import SIP

/// Frames SIP messages on a TCP or TLS connection (by Content-Length, keep-alives
/// skipped) and hands them to the transaction layer.
///
/// A peer that sends garbage, exceeds the size limits, or leaves a message unfinished for
/// longer than `messageTimeout` (slow-loris) is answered when possible, logged and
/// disconnected; the event loop never waits on it, so other peers are not slowed.
final class SIPStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let core: NIOLoopBound<TransportCore>
    private let transport: SIPTransportKind
    private let messageTimeout: TimeAmount
    private let handshakeTimeout: TimeAmount
    private var parser: SIPStreamParser
    private var buffer = ByteBuffer()
    private var partialDeadline: Scheduled<Void>?
    private var handshakeDeadline: Scheduled<Void>?

    init(core: NIOLoopBound<TransportCore>, transport: SIPTransportKind, limits: SIPParser.Limits, messageTimeout: TimeAmount,
         handshakeTimeout: TimeAmount) {
        self.core = core
        self.transport = transport
        self.messageTimeout = messageTimeout
        self.handshakeTimeout = handshakeTimeout
        parser = SIPStreamParser(limits: limits)
    }

    /// A TLS peer must finish its handshake in time: one that stalls it (a plain TCP
    /// server that never answers the ClientHello, a client that connects and waits)
    /// fails its transactions at once with a TLS failure instead of costing a timeout.
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshakeDeadline(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startHandshakeDeadline(context: context)
        context.fireChannelActive()
    }

    private func startHandshakeDeadline(context: ChannelHandlerContext) {
        guard transport == .tls, handshakeDeadline == nil else { return }
        let channel = context.channel
        let core = self.core, transport = self.transport, timeout = handshakeTimeout
        handshakeDeadline = context.eventLoop.scheduleTask(in: timeout) {
            guard let remote = channel.remoteAddress else { return }
            core.value.connectionFailed(ConnectionKey(transport: transport, address: remote),
                                        error: .tlsFailure("\(remote): handshake not completed in \(timeout.nanoseconds / 1_000_000) ms"))
            core.value.logger.info("closing TLS connection: handshake not completed in time", metadata: ["peer": "\(remote)"])
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        guard let source = context.channel.remoteAddress else { return }
        let flow = Flow.stream(ConnectionKey(transport: transport, address: source))
        while buffer.readableBytes > 0 {
            let result: Result<SIPStreamParser.Result, SIPParseError> = buffer.withUnsafeReadableBytes { raw in
                do throws(SIPParseError) { return .success(try parser.parse(raw)) } catch { return .failure(error) }
            }
            switch result {
            case .success(.needMoreData(let discard)):
                buffer.moveReaderIndex(forwardBy: discard)
                updatePartialDeadline(context: context)
                buffer.discardReadBytes()
                return
            case .success(.message(let message, let consumed)):
                buffer.moveReaderIndex(forwardBy: consumed)
                core.value.receive(message, transport: transport, source: source, flow: flow)
            case .failure(let error):
                // Framing is lost: answer if we can, then close.
                core.value.answerParseError(error, transport: transport, source: source, flow: flow)
                core.value.metrics.dropped(.streamError)
                core.value.logger.info("closing SIP connection after a bad message",
                                       metadata: ["peer": "\(source)", "transport": "\(transport)", "reason": "\(error.reason)"])
                buffer.clear()
                cancelPartialDeadline()
                context.channel.flush()  // the answer goes out before the connection closes
                context.close(promise: nil)
                return
            }
        }
        buffer.discardReadBytes()
        cancelPartialDeadline()
    }

    private func updatePartialDeadline(context: ChannelHandlerContext) {
        guard buffer.readableBytes > 0 else {
            cancelPartialDeadline()
            return
        }
        guard partialDeadline == nil else { return }
        let channel = context.channel
        let core = self.core
        partialDeadline = context.eventLoop.scheduleTask(in: messageTimeout) {
            core.value.metrics.dropped(.slowPeer)
            core.value.logger.info("closing SIP connection: message not completed in time",
                                   metadata: ["peer": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
            channel.close(promise: nil)
        }
    }

    private func cancelPartialDeadline() {
        partialDeadline?.cancel()
        partialDeadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            handshakeDeadline?.cancel()
            handshakeDeadline = nil
        }
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let remote = context.channel.remoteAddress {
            core.value.connectionFailed(ConnectionKey(transport: transport, address: remote),
                                        error: TransportCore.transportError(error, address: remote))
        }
        core.value.logger.debug("SIP connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelPartialDeadline()
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        if let remote = context.channel.remoteAddress {
            core.value.connectionFailed(ConnectionKey(transport: transport, address: remote),
                                        error: .connectionClosed("\(remote)"))
        }
        context.fireChannelInactive()
    }
}
