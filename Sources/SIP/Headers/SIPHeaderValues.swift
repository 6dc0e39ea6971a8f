/// `CSeq: 4711 NOTIFY`.
public struct SIPCSeq: Sendable, Hashable, CustomStringConvertible {
    /// Below 2^31 (RFC 3261 §8.1.1.5).
    public var sequence: UInt32
    public var method: SIPMethod

    public init(_ sequence: UInt32, _ method: SIPMethod) {
        self.sequence = sequence
        self.method = method
    }

    public var description: String { "\(sequence) \(method.rawValue)" }

    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> SIPCSeq {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        guard let n = reader.readNumber(max: UInt64(Int32.max)) else { throw SIPSyntaxError("bad sequence number") }
        let before = reader.pos
        reader.skipWhitespace()
        guard reader.pos > before, let method = reader.readToken() else { throw SIPSyntaxError("missing method") }
        reader.skipWhitespace()
        guard reader.atEnd else { throw SIPSyntaxError("unexpected text after method") }
        return SIPCSeq(UInt32(n), SIPMethod.named(b, method))
    }
}

/// `Event: message-summary;id=1` (RFC 6665).
public struct SIPEvent: Sendable, Hashable, CustomStringConvertible {
    public var package: String
    public var parameters: SIPParameters

    public init(package: String, parameters: SIPParameters = []) {
        self.package = package
        self.parameters = parameters
    }

    public var id: String? { parameters["id"] ?? nil }

    /// Event packages compare case-insensitively.
    public func isPackage(_ name: String) -> Bool { ASCII.equalsIgnoringCase(package.utf8, name.utf8) }

    public var description: String { package + parameters.description }

    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> SIPEvent {
        let (token, params) = try SIPHeaderValues.parseTokenWithParameters(b, r)
        return SIPEvent(package: token, parameters: params)
    }
}

/// `Subscription-State: active;expires=3600` (RFC 6665 §8.2.3).
public struct SIPSubscriptionState: Sendable, Hashable, CustomStringConvertible {
    public enum State: Sendable, Hashable, CustomStringConvertible {
        case active, pending, terminated
        case other(String)

        init(_ s: String) {
            switch ASCII.lowercased(s) {
            case "active": self = .active
            case "pending": self = .pending
            case "terminated": self = .terminated
            default: self = .other(s)
            }
        }

        public var description: String {
            switch self {
            case .active: "active"
            case .pending: "pending"
            case .terminated: "terminated"
            case .other(let s): s
            }
        }
    }

    public var state: State
    public var parameters: SIPParameters

    public init(_ state: State, reason: String? = nil, expires: UInt32? = nil) {
        self.state = state
        parameters = []
        if let reason { parameters.set("reason", reason) }
        if let expires { parameters.set("expires", String(expires)) }
    }

    public var reason: String? { parameters["reason"] ?? nil }
    public var expires: UInt32? { (parameters["expires"] ?? nil).flatMap { UInt32($0) } }
    public var retryAfter: UInt32? { (parameters["retry-after"] ?? nil).flatMap { UInt32($0) } }

    public var description: String { state.description + parameters.description }

    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> SIPSubscriptionState {
        let (token, params) = try SIPHeaderValues.parseTokenWithParameters(b, r)
        var s = SIPSubscriptionState(State(token))
        s.parameters = params
        return s
    }
}

/// A media type or range: `application/simple-message-summary`, `*/*;q=0.5`.
public struct SIPMediaType: Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var subtype: String
    public var parameters: SIPParameters

    public init(type: String, subtype: String, parameters: SIPParameters = []) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
    }

    public static let simpleMessageSummary = SIPMediaType(type: "application", subtype: "simple-message-summary")

    /// Same type and subtype, ignoring case and parameters.
    public func matches(_ other: SIPMediaType) -> Bool {
        ASCII.equalsIgnoringCase(type.utf8, other.type.utf8) && ASCII.equalsIgnoringCase(subtype.utf8, other.subtype.utf8)
    }

    /// Whether this media range (with `*` wildcards) accepts `other`.
    public func accepts(_ other: SIPMediaType) -> Bool {
        if type == "*" { return true }
        guard ASCII.equalsIgnoringCase(type.utf8, other.type.utf8) else { return false }
        return subtype == "*" || ASCII.equalsIgnoringCase(subtype.utf8, other.subtype.utf8)
    }

    public var description: String { "\(type)/\(subtype)\(parameters.description)" }

    public init(parsing text: String) throws(SIPSyntaxError) {
        self = try withUTF8Bytes(text) { (b: UnsafeBufferPointer<UInt8>) throws(SIPSyntaxError) -> SIPMediaType in
            try SIPMediaType.parse(b, 0..<b.count)
        }
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> SIPMediaType {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        guard let type = reader.readToken(), reader.consume(ASCII.slash), let subtype = reader.readToken() else {
            throw SIPSyntaxError("bad media type")
        }
        let params = try SIPParameters.parse(&reader, allowWhitespace: true, maxCount: SIPURI.maxParameters, isValueChar: ASCII.isTokenChar)
        reader.skipWhitespace()
        guard reader.atEnd else { throw SIPSyntaxError("unexpected text after media type") }
        return SIPMediaType(type: reader.string(type), subtype: reader.string(subtype), parameters: params)
    }
}

/// Shared pieces of header grammar.
enum SIPHeaderValues {
    /// `1*DIGIT` with optional surrounding whitespace, at most `max`.
    static func parseNumber(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, max: UInt64) throws(SIPSyntaxError) -> UInt64 {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        guard let n = reader.readNumber(max: max) else { throw SIPSyntaxError("bad number") }
        reader.skipWhitespace()
        guard reader.atEnd else { throw SIPSyntaxError("bad number") }
        return n
    }

    /// delta-seconds: values beyond 2^32-1 are taken as 2^32-1 (RFC 3261 §20.19).
    static func parseDeltaSeconds(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> UInt32 {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        let digits = reader.read(while: ASCII.isDigit)
        reader.skipWhitespace()
        guard !digits.isEmpty, reader.atEnd else { throw SIPSyntaxError("bad delta-seconds") }
        var value: UInt64 = 0
        for i in digits {
            value = value * 10 + UInt64(b[i] - 48)
            if value > UInt64(UInt32.max) { return UInt32.max }
        }
        return UInt32(value)
    }

    /// callid = word [ "@" word ]
    static func validateCallID(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) {
        guard !r.isEmpty, let base = b.baseAddress else { throw SIPSyntaxError("empty Call-ID") }
        let word = ASCII.wordTable
        var ats = 0
        for i in r where word[Int(base[i])] == 0 {
            guard base[i] == ASCII.at else { throw SIPSyntaxError("bad character in Call-ID") }
            ats += 1
            guard ats == 1, i > r.lowerBound, i + 1 < r.upperBound else { throw SIPSyntaxError("bad Call-ID") }
        }
    }

    /// token *( SEMI generic-param )
    static func parseTokenWithParameters(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> (String, SIPParameters) {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        guard let token = reader.readToken() else { throw SIPSyntaxError("missing token") }
        let params = try SIPParameters.parse(
            &reader, allowWhitespace: true, maxCount: SIPURI.maxParameters, isValueChar: SIPParameters.isHeaderValueChar)
        reader.skipWhitespace()
        guard reader.atEnd else { throw SIPSyntaxError("unexpected text after parameters") }
        return (reader.string(token), params)
    }

    static func parseToken(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> String {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        guard let token = reader.readToken() else { throw SIPSyntaxError("missing token") }
        reader.skipWhitespace()
        guard reader.atEnd else { throw SIPSyntaxError("unexpected text after token") }
        return reader.string(token)
    }
}
