/// One `Via` element: `SIP/2.0/UDP host:port;branch=z9hG4bK…;received=…;rport=…`.
public struct SIPVia: Sendable, Hashable, CustomStringConvertible {
    /// Transport in upper case: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, …
    public var transport: String
    public var host: String
    public var port: UInt16?
    public var parameters: SIPParameters

    public init(transport: String, host: String, port: UInt16? = nil, branch: String? = nil, parameters: SIPParameters = []) {
        self.transport = transport.utf8.contains(where: { $0 >= 97 && $0 <= 122 }) ? transport.uppercased() : transport
        self.host = host
        self.port = port
        self.parameters = parameters
        if let branch { self.parameters.set("branch", branch) }
    }

    public var branch: String? {
        get { parameters["branch"] ?? nil }
        set { if let newValue { parameters.set("branch", newValue) } else { parameters.remove("branch") } }
    }

    /// The `received` parameter: the source address the next hop saw.
    public var received: String? {
        get { parameters["received"] ?? nil }
        set { if let newValue { parameters.set("received", newValue) } else { parameters.remove("received") } }
    }

    /// RFC 3581: `;rport` without a value asks the server to fill it in.
    public var rportRequested: Bool { parameters.contains("rport") }

    /// RFC 3581: the source port the server saw, once filled in.
    public var rport: UInt16? {
        get { (parameters["rport"] ?? nil).flatMap { UInt16($0) } }
        set { parameters.set("rport", newValue.map { String($0) }) }
    }

    /// True when the branch carries the RFC 3261 magic cookie.
    public var hasRFC3261Branch: Bool { branch?.hasPrefix("z9hG4bK") ?? false }

    public var description: String {
        var out = "SIP/2.0/"
        out += transport
        out += " "
        out += host
        if let port {
            out += ":"
            out += String(port)
        }
        out += parameters.description
        return out
    }

    public init(parsing text: String) throws(SIPSyntaxError) {
        self = try withUTF8Bytes(text) { (b: UnsafeBufferPointer<UInt8>) throws(SIPSyntaxError) -> SIPVia in
            try SIPVia.parse(b, 0..<b.count)
        }
    }

    /// via-parm = sent-protocol LWS sent-by *( SEMI via-params ), LWS allowed around `/`.
    /// With `firstOfList`, parsing stops at a comma that starts the next via-parm (the top
    /// Via of a combined field) instead of requiring the end of the range.
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, firstOfList: Bool = false) throws(SIPSyntaxError) -> SIPVia {
        let parts = try scan(b, r, firstOfList: firstOfList, build: true)
        let reader = ByteReader(b)
        var via = SIPVia(transport: reader.string(parts.transport), host: reader.string(parts.host), port: parts.port)
        via.parameters = parts.parameters
        return via
    }

    /// Checks a via-parm as `parse` reads it, making no string (the parser's check of the
    /// top Via; the value is read whole when someone asks for it).
    static func check(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, firstOfList: Bool) throws(SIPSyntaxError) {
        _ = try scan(b, r, firstOfList: firstOfList, build: false)
    }

    /// Where a via-parm's parts are; its parameters only when `build` (else none).
    private static func scan(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, firstOfList: Bool, build: Bool)
        throws(SIPSyntaxError) -> (transport: Range<Int>, host: Range<Int>, port: UInt16?, parameters: SIPParameters) {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        let transport: Range<Int>
        if reader.end - reader.pos > 8, let base = b.baseAddress,
           // "SIP/2.0/" in any case, read little-endian: setting bit 5 of the letters'
           // bytes lower-cases S, I and P and changes nothing else that could match.
           UnsafeRawPointer(base + reader.pos).loadUnaligned(as: UInt64.self) | 0x0000_0000_0020_2020 == 0x2F30_2E32_2F70_6973,
           ASCII.isTokenChar(base[reader.pos + 8]) {
            reader.pos += 8
            transport = reader.read(while: ASCII.isTokenChar)
        } else {
            guard let name = reader.readToken(), reader.bytesEqual(name, ignoringCase: "SIP"),
                  reader.consume(ASCII.slash), let version = reader.readToken(), reader.bytesEqual(version, ignoringCase: "2.0"),
                  reader.consume(ASCII.slash), let token = reader.readToken()
            else { throw SIPSyntaxError("bad sent-protocol") }
            transport = token
        }
        let before = reader.pos
        reader.skipWhitespace()
        guard reader.pos > before else { throw SIPSyntaxError("missing sent-by") }
        let (hostRange, port) = try scanHostPort(&reader)
        let params = try SIPParameters.parse(
            &reader, allowWhitespace: true, maxCount: SIPURI.maxParameters, isValueChar: SIPParameters.isHeaderValueChar,
            build: build)
        reader.skipWhitespace()
        guard reader.atEnd || (firstOfList && reader.peek(ASCII.comma)) else {
            throw SIPSyntaxError("unexpected text after Via parameters")
        }
        return (transport, hostRange, port, params)
    }

    /// host [ COLON port ] where host is a name, IPv4 address or `[IPv6]`: the host's
    /// range and the port.
    static func scanHostPort(_ reader: inout ByteReader) throws(SIPSyntaxError) -> (Range<Int>, UInt16?) {
        let b = reader.bytes
        let start = reader.pos
        if reader.peek(ASCII.openBracket) {
            reader.advance()
            let inner = reader.read { ASCII.isHexDigit($0) || $0 == ASCII.colon || $0 == ASCII.dot }
            guard reader.consume(ASCII.closeBracket, allowingWhitespace: false), inner.count >= 2 else {
                throw SIPSyntaxError("malformed IPv6 reference")
            }
        } else {
            let name = reader.read { ASCII.isAlphanumeric($0) || $0 == ASCII.minus || $0 == ASCII.dot || $0 == 95 }
            guard URIEscaping.isValidHostName(b, name) else { throw SIPSyntaxError("invalid host") }
        }
        let host = start..<reader.pos
        var port: UInt16?
        if reader.consume(ASCII.colon) {
            guard let p = reader.readNumber(max: 65535) else { throw SIPSyntaxError("invalid port") }
            port = UInt16(p)
        }
        return (host, port)
    }
}
