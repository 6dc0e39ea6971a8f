#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A SIP method: the standard ones as constants, any other token allowed (RFC 3261 §7.1
/// `extension-method`). Methods are case-sensitive.
public struct SIPMethod: Sendable, Hashable, RawRepresentable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public var description: String { rawValue }

    public static let invite: SIPMethod = "INVITE"
    public static let ack: SIPMethod = "ACK"
    public static let bye: SIPMethod = "BYE"
    public static let cancel: SIPMethod = "CANCEL"
    public static let options: SIPMethod = "OPTIONS"
    public static let register: SIPMethod = "REGISTER"
    public static let subscribe: SIPMethod = "SUBSCRIBE"
    public static let notify: SIPMethod = "NOTIFY"
    public static let publish: SIPMethod = "PUBLISH"
    public static let info: SIPMethod = "INFO"
    public static let refer: SIPMethod = "REFER"
    public static let message: SIPMethod = "MESSAGE"
    public static let update: SIPMethod = "UPDATE"
    public static let prack: SIPMethod = "PRACK"

    /// The method spelled by `b[r]` (case-sensitive, RFC 3261 §7.1). The methods above
    /// come back as constants, so that reading a request makes no string for them.
    static func named(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> SIPMethod {
        guard let base = b.baseAddress else { return SIPMethod("") }
        let bytes = base + r.lowerBound
        func spells(_ literal: StaticString) -> Bool { memcmp(bytes, literal.utf8Start, r.count) == 0 }
        switch r.count {
        case 3:
            if spells("ACK") { return "ACK" }
            if spells("BYE") { return "BYE" }
        case 4:
            if spells("INFO") { return "INFO" }
        case 5:
            if spells("PRACK") { return "PRACK" }
            if spells("REFER") { return "REFER" }
        case 6:
            if spells("NOTIFY") { return "NOTIFY" }
            if spells("INVITE") { return "INVITE" }
            if spells("CANCEL") { return "CANCEL" }
            if spells("UPDATE") { return "UPDATE" }
        case 7:
            if spells("PUBLISH") { return "PUBLISH" }
            if spells("OPTIONS") { return "OPTIONS" }
            if spells("MESSAGE") { return "MESSAGE" }
        case 8:
            if spells("REGISTER") { return "REGISTER" }
        case 9:
            if spells("SUBSCRIBE") { return "SUBSCRIBE" }
        default:
            break
        }
        return SIPMethod(String(decoding: UnsafeBufferPointer(start: bytes, count: r.count), as: UTF8.self))
    }
}

/// The first line of a message.
public enum SIPStartLine: Sendable, Equatable {
    case request(method: SIPMethod, uri: SIPURI)
    case response(statusCode: Int, reasonPhrase: String)
}

/// A SIP request or response: start line, header fields in order, and body.
///
/// Equality compares the start line, the header fields (names as header names, values
/// exactly) except `Content-Length`, which the body determines, and the body bytes.
public struct SIPMessage: Sendable, Equatable {
    /// How the start line is kept. A parsed request keeps its Request-URI as bytes of the
    /// message, checked by the parser against the whole URI grammar, and builds the
    /// `SIPURI` (with its strings) only when someone asks for it: parsing allocates nothing
    /// beyond the message's own bytes and its field table.
    enum Line: Sendable {
        case given(SIPStartLine)
        case parsedRequest(method: SIPMethod, uri: ArraySlice<UInt8>)
    }

    var line: Line
    public var headers: SIPHeaders
    /// The body. For a parsed message this shares the message's byte buffer.
    public var body: ArraySlice<UInt8>

    public init(startLine: SIPStartLine, headers: SIPHeaders = SIPHeaders(), body: ArraySlice<UInt8> = []) {
        self.line = .given(startLine)
        self.headers = headers
        self.body = body
    }

    init(line: Line, headers: SIPHeaders, body: ArraySlice<UInt8>) {
        self.line = line
        self.headers = headers
        self.body = body
    }

    public var startLine: SIPStartLine {
        get {
            switch line {
            case .given(let l): l
            case .parsedRequest(let method, let uri): .request(method: method, uri: SIPURI.checked(uri))
            }
        }
        set { line = .given(newValue) }
    }

    public var isRequest: Bool {
        switch line {
        case .given(.request), .parsedRequest: true
        case .given(.response): false
        }
    }

    /// The request method, or `nil` for a response.
    public var method: SIPMethod? {
        switch line {
        case .given(.request(let m, _)), .parsedRequest(let m, _): m
        case .given(.response): nil
        }
    }

    public var requestURI: SIPURI? {
        switch line {
        case .given(.request(_, let uri)): uri
        case .parsedRequest(_, let uri): SIPURI.checked(uri)
        case .given(.response): nil
        }
    }

    /// The status code, or `nil` for a request.
    public var statusCode: Int? {
        if case .given(.response(let code, _)) = line { return code }
        return nil
    }

    public var reasonPhrase: String? {
        if case .given(.response(_, let reason)) = line { return reason }
        return nil
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    public static func == (a: SIPMessage, b: SIPMessage) -> Bool {
        a.startLine == b.startLine
            && a.body.elementsEqual(b.body)
            && a.headers.equals(b.headers, skipping: SIPHeaderName.contentLength.known)
    }
}
