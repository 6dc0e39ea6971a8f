/// Why a message could not be parsed, in words fit for a `400 Bad Request` reason phrase,
/// with the status a server should answer and — when enough of the message was read to
/// answer at all (Via, From, To, Call-ID and CSeq present, top Via usable) — its headers.
public struct SIPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case empty
        case messageTooLarge
        case tooManyHeaders
        case headerTooLong
        case malformedStartLine
        case unsupportedVersion
        case invalidStatusCode
        case invalidRequestURI
        case malformedHeaderLine
        case invalidCharacter
        case invalidUTF8
        case malformedHeader(String)
        case missingHeader(String)
        case duplicateHeader(String)
        case cseqMethodMismatch
        case invalidContentLength
        case contentLengthExceedsMessage
        case missingContentLength
        case incompleteHeaders
    }

    public var kind: Kind
    /// A short explanation, safe to put in a reason phrase (ASCII, no CR/LF).
    public var reason: String
    /// The headers read so far when a response can be formed; `nil` otherwise.
    public var headers: SIPHeaders?
    /// True when the message looked like a request (only requests are answered).
    public var isRequest: Bool

    public init(_ kind: Kind, _ reason: String, headers: SIPHeaders? = nil, isRequest: Bool = false) {
        self.kind = kind
        self.reason = reason
        self.headers = headers
        self.isRequest = isRequest
    }

    /// Whether a response can be sent: the message was a request and Via, From, To,
    /// Call-ID and CSeq were read.
    public var canRespond: Bool { isRequest && headers != nil }

    /// The status to answer with: 505 for another SIP version, 513 for an oversized
    /// message, 400 otherwise.
    public var statusCode: Int {
        switch kind {
        case .unsupportedVersion: 505
        case .messageTooLarge: 513
        default: 400
        }
    }

    public var description: String { reason }

    public static func == (a: SIPParseError, b: SIPParseError) -> Bool {
        a.kind == b.kind && a.reason == b.reason && a.isRequest == b.isRequest && (a.headers == nil) == (b.headers == nil)
    }
}
