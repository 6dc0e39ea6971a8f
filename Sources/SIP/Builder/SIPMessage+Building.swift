/// New identifiers: branches with the RFC 3261 magic cookie, tags and Call-IDs.
public enum SIPIdentifiers {
    public static let magicCookie = "z9hG4bK"

    /// `z9hG4bK` followed by 64 random bits in hex.
    public static func branch(using rng: inout some RandomNumberGenerator) -> String {
        branch(rng.next())
    }

    /// 60 random bits in 15 hex digits (RFC 3261 §19.3 asks for 32): a string that
    /// short is kept inline, without a heap allocation, and a subscription's dialog
    /// carries its tag as its identifier.
    public static func tag(using rng: inout some RandomNumberGenerator) -> String {
        hex(rng.next() >> 4, digits: 15)
    }

    /// 128 random bits in hex, `@host` appended when given.
    public static func callID(host: String? = nil, using rng: inout some RandomNumberGenerator) -> String {
        let id = hex(rng.next(), digits: 16) + hex(rng.next(), digits: 16)
        return host.map { id + "@" + $0 } ?? id
    }

    public static func branch() -> String {
        var rng = SharedSystemRandom()
        return branch(using: &rng)
    }

    /// The branch `z9hG4bK` + `random` in 16 hex digits.
    public static func branch(_ random: UInt64) -> String {
        magicCookie + hex(random, digits: 16)
    }

    /// The 64 bits of a branch this module made (`z9hG4bK` and 16 hex digits), or nil for
    /// any other branch.
    public static func branchKey(_ branch: String) -> UInt64? {
        var utf8 = branch.utf8[...]
        guard utf8.count == 23, utf8.starts(with: magicCookie.utf8) else { return nil }
        utf8 = utf8.dropFirst(7)
        var value: UInt64 = 0
        for byte in utf8 {
            guard let digit = ASCII.hexValue(byte) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    public static func tag() -> String {
        var rng = SharedSystemRandom()
        return tag(using: &rng)
    }

    public static func callID(host: String? = nil) -> String {
        var rng = SharedSystemRandom()
        return callID(host: host, using: &rng)
    }

    /// The low `digits` hex digits of `v` (1 to 16), lowercase and zero-padded, written in one go.
    public static func hex(_ v: UInt64, digits: Int) -> String {
        let count = Swift.min(Swift.max(digits, 1), 16)
        return String(unsafeUninitializedCapacity: count) { out in
            var rest = v
            for i in stride(from: count - 1, through: 0, by: -1) {
                let nibble = UInt8(truncatingIfNeeded: rest & 0xF)
                out[i] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
                rest >>= 4
            }
            return count
        }
    }
}

extension SIPMessage {
    /// A new request with the mandatory headers of RFC 3261 §8.1.1 in the usual order:
    /// Via, Max-Forwards, From, To, Call-ID, CSeq, then Contact and the rest. Leave `via`
    /// out when the request goes through `SIPEndpoint.send`, which adds its own.
    public static func request(
        method: SIPMethod, uri: SIPURI, via: SIPVia? = nil, from: SIPNameAddress, to: SIPNameAddress,
        callID: String, cseq: UInt32, maxForwards: Int = 70, contact: SIPNameAddress? = nil,
        headers extra: [(SIPHeaderName, String)] = [], contentType: SIPMediaType? = nil, body: [UInt8] = []
    ) -> SIPMessage {
        var h = SIPHeaders()
        h.storage.reserveCapacity(384 + body.count)
        h.fields.reserveCapacity(10 + extra.count)
        if let via { h.add(.via, via.description) }
        h.add(.maxForwards, String(maxForwards))
        h.add(.from, from.description)
        h.add(.to, to.description)
        h.add(.callID, callID)
        h.add(.cseq, SIPCSeq(cseq, method).description)
        if let contact { h.add(.contact, contact.description) }
        for (name, value) in extra { h.add(name, value) }
        if let contentType { h.add(.contentType, contentType.description) }
        return SIPMessage(startLine: .request(method: method, uri: uri), headers: h, body: body[...])
    }

    /// A response to this request (RFC 3261 §8.2.6): Via fields, From, Call-ID and CSeq
    /// copied, To copied with `toTag` added when it has no tag yet.
    public func makeResponse(statusCode: Int, reasonPhrase: String? = nil, toTag: String? = nil) -> SIPMessage {
        Self.response(to: headers, statusCode: statusCode, reasonPhrase: reasonPhrase, toTag: toTag)
    }

    /// A response built from a request's headers alone (for example those a
    /// `SIPParseError` carries when the request could not be fully parsed).
    public static func response(
        to request: SIPHeaders, statusCode: Int, reasonPhrase: String? = nil, toTag: String? = nil
    ) -> SIPMessage {
        var h = SIPHeaders()
        h.storage.reserveCapacity(256)
        for i in 0..<request.count where request.fields[i].known == SIPHeaderName.via.known {
            h.add(.via, request.value(at: i))
        }
        for name in [SIPHeaderName.from, .to, .callID, .cseq] {
            guard let value = request.first(name) else { continue }
            h.add(name, name == .to ? toValue(value, addingTag: toTag) : value)
        }
        let reason = reasonPhrase ?? SIPStatus.reasonPhrase(for: statusCode)
        return SIPMessage(startLine: .response(statusCode: statusCode, reasonPhrase: sanitizedReason(reason)), headers: h)
    }

    private static func toValue(_ value: String, addingTag tag: String?) -> String {
        guard let tag else { return value }
        if var to = try? SIPNameAddress(parsing: value) {
            if to.tag == nil { to.tag = tag }
            return to.description
        }
        return value
    }

    /// A reason phrase never carries CR or LF, and stays reasonably short.
    static func sanitizedReason(_ s: String) -> String {
        var out = String(s.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? " " : Character($0) })
        if out.count > 200 { out = String(out.prefix(200)) }
        return out
    }
}

/// Default reason phrases (RFC 3261 §21 and the event RFCs).
public enum SIPStatus {
    public static func reasonPhrase(for code: Int) -> String {
        switch code {
        case 100: "Trying"
        case 180: "Ringing"
        case 200: "OK"
        case 202: "Accepted"
        case 204: "No Notification"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 412: "Conditional Request Failed"
        case 413: "Request Entity Too Large"
        case 415: "Unsupported Media Type"
        case 416: "Unsupported URI Scheme"
        case 420: "Bad Extension"
        case 423: "Interval Too Brief"
        case 480: "Temporarily Unavailable"
        case 481: "Call/Transaction Does Not Exist"
        case 482: "Loop Detected"
        case 483: "Too Many Hops"
        case 489: "Bad Event"
        case 500: "Server Internal Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 504: "Server Time-out"
        case 505: "Version Not Supported"
        case 513: "Message Too Large"
        case 603: "Decline"
        default:
            switch code / 100 {
            case 1: "Provisional"
            case 2: "Success"
            case 3: "Redirection"
            case 4: "Client Error"
            case 5: "Server Error"
            default: "Global Failure"
            }
        }
    }
}
