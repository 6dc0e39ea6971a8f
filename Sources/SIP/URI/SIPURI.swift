/// A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966); any other scheme is kept opaque so
/// that a message naming one (for example in To) still parses.
///
/// `user` and `password` hold the decoded text (escapes resolved); they are escaped again
/// when written. Parameters and URI headers are kept verbatim.
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: Sendable, Hashable, CustomStringConvertible {
        case sip, sips, tel
        case other(String)

        public var description: String {
            switch self {
            case .sip: "sip"
            case .sips: "sips"
            case .tel: "tel"
            case .other(let s): s
            }
        }
    }

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var scheme: Scheme
    /// The user part (sip/sips) or the telephone-subscriber number (tel), unescaped.
    public var user: String?
    public var password: String?
    /// Host name, IPv4 address or bracketed IPv6 reference; empty for tel and other schemes.
    public var host: String
    public var port: UInt16?
    public var parameters: SIPParameters
    public var headers: [Header]
    /// Everything after `scheme:` for schemes other than sip, sips and tel.
    public var opaque: String?

    public init(
        scheme: Scheme = .sip, user: String? = nil, password: String? = nil, host: String,
        port: UInt16? = nil, parameters: SIPParameters = [], headers: [Header] = []
    ) {
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = headers
        self.opaque = nil
    }

    /// A `tel:` URI for a global (`+…`) or local number.
    public static func tel(_ number: String, parameters: SIPParameters = []) -> SIPURI {
        SIPURI(scheme: .tel, user: number, host: "", parameters: parameters)
    }

    /// Parses a complete URI, for example `sip:alice@example.com;transport=tcp`.
    public init(parsing text: String) throws(SIPSyntaxError) {
        self = try withUTF8Bytes(text) { (b: UnsafeBufferPointer<UInt8>) throws(SIPSyntaxError) -> SIPURI in
            try SIPURI.parse(b, 0..<b.count, allowParametersAndHeaders: true)
        }
    }

    /// The `transport` URI parameter, lowercased.
    public var transportParameter: String? {
        (parameters["transport"] ?? nil).map(ASCII.lowercased)
    }

    public var isSecure: Bool { scheme == .sips }

    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(48)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the URI's text to `out`.
    public func write(into out: inout [UInt8]) { write(to: &out) }

    /// Writes the URI's text (the serializer writes it straight into the message).
    func write<Sink: ByteSink>(to out: inout Sink) {
        switch scheme {
        case .sip, .sips:
            out.append(scheme == .sip ? "sip:" : "sips:" as StaticString)
            if let user {
                URIEscaping.appendEscaped(user, allowed: URIEscaping.isUserChar, to: &out)
                if let password {
                    out.append(ASCII.colon)
                    URIEscaping.appendEscaped(password, allowed: URIEscaping.isPasswordChar, to: &out)
                }
                out.append(ASCII.at)
            }
            out.append(host)
            if let port {
                out.append(ASCII.colon)
                out.appendDecimal(Int(port))
            }
        case .tel:
            out.append("tel:" as StaticString)
            out.append(user ?? "")
        case .other(let s):
            out.append(s)
            out.append(ASCII.colon)
            out.append(opaque ?? "")
        }
        for p in parameters {
            out.append(ASCII.semicolon)
            out.append(p.name)
            if let v = p.value {
                out.append(ASCII.equals)
                out.append(v)
            }
        }
        for (i, h) in headers.enumerated() {
            out.append(i == 0 ? ASCII.question : ASCII.ampersand)
            out.append(h.name)
            out.append(ASCII.equals)
            out.append(h.value)
        }
    }
}

extension SIPURI {
    static let maxParameters = 64

    /// The URI in bytes the parser has already checked (a parsed Request-URI). They
    /// cannot fail here (the same grammar accepted them); if they did, the text would be
    /// kept as an opaque URI with an empty scheme rather than lost (the fuzzer looks for it).
    static func checked(_ bytes: ArraySlice<UInt8>) -> SIPURI {
        let parsed: SIPURI? = bytes.withUnsafeBufferPointer { b in
            try? parse(b, 0..<b.count, allowParametersAndHeaders: true)
        }
        if let parsed { return parsed }
        var uri = SIPURI(scheme: .other(""), host: "")
        uri.opaque = String(decoding: bytes, as: UTF8.self)
        return uri
    }

    /// Parses the URI in `r`. The whole range must be consumed.
    static func parse(
        _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, allowParametersAndHeaders: Bool
    ) throws(SIPSyntaxError) -> SIPURI {
        var uri: SIPURI? = SIPURI(host: "")
        try scan(b, r, allowParametersAndHeaders: allowParametersAndHeaders, into: &uri)
        return uri ?? SIPURI(host: "")
    }

    /// Checks the URI in `r` as `parse` would (the same grammar, the same errors) without
    /// building it: no strings are made.
    static func check(
        _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, allowParametersAndHeaders: Bool
    ) throws(SIPSyntaxError) {
        if isPlainSIPURI(b, r) { return }
        var none: SIPURI?
        try scan(b, r, allowParametersAndHeaders: allowParametersAndHeaders, into: &none)
    }

    /// Whether `b[r]` is `sip:user@host[:port]` with nothing escaped and nothing more, in
    /// one pass: the shape of nearly every Request-URI. Everything it accepts, `scan`
    /// accepts too; anything else (no user, a password, escapes, IPv6, parameters) goes
    /// to `scan`.
    @inline(__always)
    static func isPlainSIPURI(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard r.count >= 7, let base = b.baseAddress else { return false }
        let p = base + r.lowerBound
        let n = r.count
        // "sip:" in any case ("sip:" read little-endian is 0x3A706973).
        guard UnsafeRawPointer(p).loadUnaligned(as: UInt32.self) | 0x0020_2020 == 0x3A70_6973 else { return false }
        var i = 4
        while i < n, URIEscaping.isUserChar(p[i]) { i += 1 }
        guard i > 4, i < n, p[i] == ASCII.at else { return false }
        i += 1
        let hostStart = i
        while i < n, ASCII.isAlphanumeric(p[i]) || p[i] == ASCII.minus || p[i] == ASCII.dot || p[i] == 95 { i += 1 }
        guard URIEscaping.isValidHostName(b, (r.lowerBound + hostStart)..<(r.lowerBound + i)) else { return false }
        if i < n, p[i] == ASCII.colon {
            i += 1
            var port = 0
            let digitsStart = i
            while i < n, p[i] &- 48 < 10, i - digitsStart < 5 {
                port = port * 10 + Int(p[i] &- 48)
                i += 1
            }
            guard i > digitsStart, port <= 65535 else { return false }
        }
        return i == n
    }

    /// The one reading of the URI grammar: fills `uri` when there is one, only checks
    /// when it is nil.
    private static func scan(
        _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, allowParametersAndHeaders: Bool, into uri: inout SIPURI?
    ) throws(SIPSyntaxError) {
        let build = uri != nil
        var reader = ByteReader(b, range: r)
        let schemeRange = reader.read { ASCII.isAlphanumeric($0) || $0 == ASCII.plus || $0 == ASCII.minus || $0 == ASCII.dot }
        guard !schemeRange.isEmpty, ASCII.isAlpha(b[schemeRange.lowerBound]), reader.consume(ASCII.colon, allowingWhitespace: false) else {
            throw SIPSyntaxError("URI without a scheme")
        }
        let scheme: Scheme
        if reader.bytesEqual(schemeRange, ignoringCase: "sip") {
            scheme = .sip
        } else if reader.bytesEqual(schemeRange, ignoringCase: "sips") {
            scheme = .sips
        } else if reader.bytesEqual(schemeRange, ignoringCase: "tel") {
            scheme = .tel
        } else {
            let rest = reader.remaining
            guard !rest.isEmpty else { throw SIPSyntaxError("empty URI after scheme") }
            for i in rest where !URIEscaping.isOpaqueChar(b[i]) {
                throw SIPSyntaxError("invalid character in URI")
            }
            if build {
                uri?.scheme = .other(reader.string(schemeRange))
                uri?.opaque = reader.string(rest)
            }
            return
        }
        uri?.scheme = scheme
        if scheme == .tel {
            let number = reader.read(while: URIEscaping.isTelephoneChar)
            guard !number.isEmpty else { throw SIPSyntaxError("tel URI without a number") }
            if build { uri?.user = reader.string(number) }
        } else {
            try parseUserAndHost(&reader, into: &uri, build: build)
        }
        if allowParametersAndHeaders {
            let parameters = try SIPParameters.parse(
                &reader, allowWhitespace: false, maxCount: maxParameters,
                isNameChar: URIEscaping.isParamChar, isValueChar: URIEscaping.isParamChar, build: build)
            if build { uri?.parameters = parameters }
            if scheme != .tel, reader.consume(ASCII.question, allowingWhitespace: false) {
                var headerCount = 0
                repeat {
                    let name = reader.read(while: URIEscaping.isHeaderChar)
                    guard !name.isEmpty, reader.consume(ASCII.equals, allowingWhitespace: false) else {
                        throw SIPSyntaxError("malformed URI header")
                    }
                    let value = reader.read(while: URIEscaping.isHeaderChar)
                    guard headerCount < maxParameters else { throw SIPSyntaxError("too many URI headers") }
                    headerCount += 1
                    if build { uri?.headers.append(Header(name: reader.string(name), value: reader.string(value))) }
                } while reader.consume(ASCII.ampersand, allowingWhitespace: false)
            }
        }
        guard reader.atEnd else { throw SIPSyntaxError("invalid character in URI") }
    }

    private static func parseUserAndHost(_ reader: inout ByteReader, into uri: inout SIPURI?, build: Bool) throws(SIPSyntaxError) {
        let b = reader.bytes
        // An unescaped '@' can only end the userinfo: no other URI part may hold one.
        var at: Int?
        for i in reader.remaining where b[i] == ASCII.at {
            at = i
            break
        }
        if let at {
            var colon: Int?
            for i in reader.pos..<at where b[i] == ASCII.colon {
                colon = i
                break
            }
            let userRange = reader.pos..<(colon ?? at)
            guard !userRange.isEmpty else { throw SIPSyntaxError("empty user part in URI") }
            let user = try URIEscaping.unescape(b, userRange, allowed: URIEscaping.isUserChar, what: "user", build: build)
            if build { uri?.user = user }
            if let colon {
                let password = try URIEscaping.unescape(b, (colon + 1)..<at, allowed: URIEscaping.isPasswordChar, what: "password", build: build)
                if build { uri?.password = password }
            }
            reader.pos = at + 1
        }
        let hostStart = reader.pos
        if reader.peek(ASCII.openBracket) {
            reader.advance()
            let inner = reader.read { ASCII.isHexDigit($0) || $0 == ASCII.colon || $0 == ASCII.dot }
            guard reader.consume(ASCII.closeBracket, allowingWhitespace: false), inner.count >= 2,
                  inner.contains(where: { b[$0] == ASCII.colon })
            else { throw SIPSyntaxError("malformed IPv6 reference in URI") }
        } else {
            let name = reader.read { ASCII.isAlphanumeric($0) || $0 == ASCII.minus || $0 == ASCII.dot || $0 == 95 }
            guard URIEscaping.isValidHostName(b, name) else { throw SIPSyntaxError("invalid host in URI") }
        }
        if build { uri?.host = reader.string(hostStart..<reader.pos) }
        if reader.consume(ASCII.colon, allowingWhitespace: false) {
            guard let port = reader.readNumber(max: 65535) else { throw SIPSyntaxError("invalid port in URI") }
            uri?.port = UInt16(port)
        }
    }
}
