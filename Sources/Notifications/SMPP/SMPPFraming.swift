import NIOCore

/// Cuts the TCP stream into PDUs by their `command_length`. A length below the header
/// or above `SMPPPDU.maximumLength` is an error: the connection is closed.
struct SMPPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMPPPDU

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length >= 16, Int(length) <= SMPPPDU.maximumLength else {
            throw SMPPError.malformed("command_length \(length) is outside 16…\(SMPPPDU.maximumLength)")
        }
        guard buffer.readableBytes >= Int(length), let bytes = buffer.readBytes(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(try SMPPPDU(decoding: bytes)))
        return .continue
    }
}

struct SMPPFrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = SMPPPDU

    func encode(data: SMPPPDU, out: inout ByteBuffer) throws {
        out.writeBytes(data.encoded())
    }
}
