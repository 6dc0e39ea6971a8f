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
    public var startLine: SIPStartLine
    public var headers: SIPHeaders
    /// The body. For a parsed message this shares the message's byte buffer.
    public var body: ArraySlice<UInt8>

    public init(startLine: SIPStartLine, headers: SIPHeaders = SIPHeaders(), body: ArraySlice<UInt8> = []) {
        self.startLine = startLine
        self.headers = headers
        self.body = body
    }

    public var isRequest: Bool {
        if case .request = startLine { return true }
        return false
    }

    /// The request method, or `nil` for a response.
    public var method: SIPMethod? {
        if case .request(let m, _) = startLine { return m }
        return nil
    }

    public var requestURI: SIPURI? {
        if case .request(_, let uri) = startLine { return uri }
        return nil
    }

    /// The status code, or `nil` for a request.
    public var statusCode: Int? {
        if case .response(let code, _) = startLine { return code }
        return nil
    }

    public var reasonPhrase: String? {
        if case .response(_, let reason) = startLine { return reason }
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
