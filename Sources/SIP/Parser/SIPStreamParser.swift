/// Frames messages on a stream transport (TCP, TLS): each message's end is found from
/// `Content-Length`, which is therefore required. Keeps what it has already scanned, so a
/// peer that trickles bytes costs linear time, and refuses a head or message larger than
/// the limits before buffering more.
public struct SIPStreamParser: Sendable {
    public enum Result: Sendable, Equatable {
        /// No complete message yet. The first `discard` bytes were keep-alive CRLFs and may
        /// be dropped by the caller (the parser has already accounted for that).
        case needMoreData(discard: Int)
        /// One message, which used the first `consumed` bytes (keep-alives before it
        /// included).
        case message(SIPMessage, consumed: Int)
    }

    public var limits: SIPParser.Limits
    /// Bytes after the keep-alives already searched for the end of the headers.
    private var scanned = 0
    /// Once the head of the pending message is parsed: its total size.
    private var pendingSize: Int?

    public init(limits: SIPParser.Limits = .default) {
        self.limits = limits
    }

    /// Looks for one complete message at the start of `bytes` (the unread part of the
    /// stream). Call again with the same bytes plus more after `.needMoreData`, minus the
    /// bytes it said to discard.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(SIPParseError) -> Result {
        let b = bytes.bindMemory(to: UInt8.self)
        let skip = SIPParser.skipKeepAlive(b, from: 0)
        if skip == b.count || (skip == b.count - 1 && b[skip] == ASCII.cr) {
            // Only keep-alives so far (perhaps half a CRLF).
            return .needMoreData(discard: skip)
        }
        let region = UnsafeBufferPointer(rebasing: b[skip...])
        if let pendingSize, region.count < pendingSize {
            return .needMoreData(discard: skip)
        }
        let searchFrom = max(0, scanned - 3)
        guard let headEnd = SIPParser.findEndOfHeaders(region, from: searchFrom, limit: limits.maxMessageSize) else {
            guard region.count < limits.maxMessageSize else {
                reset()
                throw SIPParseError(.messageTooLarge, "Message head larger than \(limits.maxMessageSize) bytes")
            }
            scanned = region.count
            return .needMoreData(discard: skip)
        }
        let headRegion = UnsafeBufferPointer(rebasing: region[0..<headEnd])
        let head: SIPParser.Head
        do {
            head = try SIPParser.parseHead(headRegion, limits: limits, datagram: false)
        } catch {
            reset()
            throw error
        }
        guard let contentLength = head.contentLength else {
            reset()
            throw head.error(.missingContentLength, "Missing Content-Length on a stream transport", headRegion)
        }
        let total = headEnd + contentLength
        guard total <= limits.maxMessageSize else {
            reset()
            throw head.error(.messageTooLarge, "Message Too Large", headRegion)
        }
        guard region.count >= total else {
            pendingSize = total
            scanned = headEnd
            return .needMoreData(discard: skip)
        }
        reset()
        return .message(head.message(region, bodyLength: contentLength), consumed: skip + total)
    }

    /// Forgets any partial progress (after an error, or when the connection is reset).
    public mutating func reset() {
        scanned = 0
        pendingSize = nil
    }
}
