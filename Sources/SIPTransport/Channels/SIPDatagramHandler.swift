import NIOCore
import SIP

/// Reads datagrams from a UDP listener: each is one message (or a keep-alive), parsed
/// and handed to the transaction layer; unparseable ones are answered `400` when they
/// carry enough to answer, dropped otherwise.
final class SIPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let core: NIOLoopBound<TransportCore>
    private let limits: SIPParser.Limits

    init(core: NIOLoopBound<TransportCore>, limits: SIPParser.Limits) {
        self.core = core
        self.limits = limits
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let source = envelope.remoteAddress
        let flow = Flow.datagram(context.channel, source)
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
        // ICMP errors reported on the socket, for example: the socket stays open.
        core.value.logger.debug("UDP socket error", metadata: ["error": "\(error)"])
    }
}
