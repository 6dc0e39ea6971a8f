import NIOCore
import NIOPosix
import SIP

/// Reads datagrams from a UDP listener: each is one message (or a keep-alive), parsed
/// and handed to the transaction layer; unparseable ones are answered `400` when they
/// carry enough to answer, dropped otherwise.
///
/// The same handler reads a peer's watch socket (see `TransportCore+UnreachablePeers`):
/// a socket connected to one peer on the listener's own address, which the kernel hands
/// that peer's datagrams and the ICMP errors our datagrams to it caused. Answers still
/// leave from the listener.
final class SIPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// For a watch socket: the listener answers go out of, and the peer watched.
    struct Watch {
        var listener: any Channel
        var peer: SocketAddress
    }

    private let core: NIOLoopBound<TransportCore>
    private let limits: SIPParser.Limits
    private let watch: Watch?

    init(core: NIOLoopBound<TransportCore>, limits: SIPParser.Limits, watch: Watch? = nil) {
        self.core = core
        self.limits = limits
        self.watch = watch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let source = envelope.remoteAddress
        let flow = Flow.datagram(watch?.listener ?? context.channel, source)
        let result: Result<SIPMessage, SIPParseError>? = envelope.data.withUnsafeReadableBytes { raw in
            // A datagram of only CRLFs is a keep-alive: nothing to do.
            if raw.allSatisfy({ $0 == 13 || $0 == 10 }) { return nil }
            do throws(SIPParseError) {
                return .success(try SIPParser.parseDatagram(raw, limits: limits))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let message):
            core.value.receive(message, transport: .udp, source: source, flow: flow)
        case .failure(let error):
            core.value.answerParseError(error, transport: .udp, source: source, flow: flow)
        case nil:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A watched peer's port is closed (ICMP port unreachable): its requests fail now.
        if let watch, let io = error as? IOError, io.errnoCode == ECONNREFUSED {
            core.value.udpPeerRefused(watch.peer)
            return
        }
        // Other socket errors: the socket stays open (NIO closes it on fatal ones).
        core.value.logger.debug("UDP socket error", metadata: ["error": "\(error)"])
    }
}
