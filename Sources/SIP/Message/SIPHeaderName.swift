/// A header field name. Known names resolve from their full or compact form, in any case,
/// to one canonical spelling (`v`, `VIA` and `via` are all `Via`); other names compare
/// case-insensitively and are written as received.
public struct SIPHeaderName: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The name as given (for unknown names, what is written on the wire).
    public let rawName: String
    /// Index into the table of known headers, or `nil`.
    let known: UInt8?

    public init(_ name: String) {
        rawName = name
        known = Self.lookup(name.utf8)
    }

    public init(stringLiteral value: String) { self.init(value) }

    init(rawName: String, known: UInt8) {
        self.rawName = rawName
        self.known = known
    }

    init(known index: UInt8) {
        rawName = Self.table[Int(index)].name
        known = index
    }

    /// The spelling written by the serializer: the full canonical name of a known header,
    /// otherwise the name as received.
    public var canonicalName: String { known.map { Self.table[Int($0)].name } ?? rawName }

    /// The compact form (RFC 3261 §7.3.3 and later RFCs), if the header has one.
    public var compactForm: Character? { known.flatMap { Self.table[Int($0)].compact } }

    public var description: String { canonicalName }

    public static func == (a: SIPHeaderName, b: SIPHeaderName) -> Bool {
        if let ka = a.known { return ka == b.known }
        if b.known != nil { return false }
        return ASCII.equalsIgnoringCase(a.rawName.utf8, b.rawName.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        if let known {
            hasher.combine(known)
        } else {
            for c in rawName.utf8 { hasher.combine(ASCII.lower(c)) }
        }
    }

    // MARK: - The table of known headers

    struct Entry {
        let name: String
        let compact: Character?
    }

    static let table: [Entry] = [
        Entry(name: "Via", compact: "v"),
        Entry(name: "From", compact: "f"),
        Entry(name: "To", compact: "t"),
        Entry(name: "Call-ID", compact: "i"),
        Entry(name: "CSeq", compact: nil),
        Entry(name: "Contact", compact: "m"),
        Entry(name: "Max-Forwards", compact: nil),
        Entry(name: "Route", compact: nil),
        Entry(name: "Record-Route", compact: nil),
        Entry(name: "Expires", compact: nil),
        Entry(name: "Event", compact: "o"),
        Entry(name: "Subscription-State", compact: nil),
        Entry(name: "Content-Type", compact: "c"),
        Entry(name: "Content-Length", compact: "l"),
        Entry(name: "Content-Encoding", compact: "e"),
        Entry(name: "WWW-Authenticate", compact: nil),
        Entry(name: "Proxy-Authenticate", compact: nil),
        Entry(name: "Authorization", compact: nil),
        Entry(name: "Proxy-Authorization", compact: nil),
        Entry(name: "Allow", compact: nil),
        Entry(name: "Allow-Events", compact: "u"),
        Entry(name: "Accept", compact: nil),
        Entry(name: "Min-Expires", compact: nil),
        Entry(name: "Supported", compact: "k"),
        Entry(name: "Subject", compact: "s"),
        Entry(name: "Refer-To", compact: "r"),
        Entry(name: "Referred-By", compact: "b"),
        Entry(name: "Accept-Contact", compact: "a"),
        Entry(name: "Reject-Contact", compact: "j"),
        Entry(name: "Request-Disposition", compact: "d"),
        Entry(name: "Session-Expires", compact: "x"),
        Entry(name: "Identity", compact: "y"),
        Entry(name: "Identity-Info", compact: "n"),
        Entry(name: "User-Agent", compact: nil),
        Entry(name: "Server", compact: nil),
        Entry(name: "Retry-After", compact: nil),
        Entry(name: "Require", compact: nil),
        Entry(name: "Unsupported", compact: nil),
        Entry(name: "SIP-ETag", compact: nil),
        Entry(name: "SIP-If-Match", compact: nil),
        Entry(name: "Date", compact: nil),
        Entry(name: "Timestamp", compact: nil),
        Entry(name: "Warning", compact: nil),
        Entry(name: "Authentication-Info", compact: nil),
        Entry(name: "Accept-Encoding", compact: nil),
        Entry(name: "Accept-Language", compact: nil),
    ]

    /// Resolves a name in any case, full or compact, without allocating.
    static func lookup(_ name: some Collection<UInt8>) -> UInt8? {
        if name.count == 1, let c = name.first {
            return compactIndex[Int(ASCII.lower(c))]
        }
        for (i, e) in table.enumerated() where ASCII.equalsIgnoringCase(e.name.utf8, name) {
            return UInt8(i)
        }
        return nil
    }

    /// Fast resolution from a byte range: first by length and first letter, then exact.
    static func lookup(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt8? {
        if r.count == 1 { return compactIndex[Int(ASCII.lower(b[r.lowerBound]))] }
        let first = ASCII.lower(b[r.lowerBound])
        for i in byLength[min(r.count, byLength.count - 1)] {
            let e = table[Int(i)]
            if ASCII.lower(e.name.utf8.first ?? 0) == first,
               ASCII.equalsIgnoringCase(e.name.utf8, UnsafeBufferPointer(rebasing: b[r])) {
                return i
            }
        }
        return nil
    }

    private static let compactIndex: [UInt8?] = {
        var t = [UInt8?](repeating: nil, count: 256)
        for (i, e) in table.enumerated() {
            if let c = e.compact?.asciiValue { t[Int(c)] = UInt8(i) }
        }
        return t
    }()

    private static let byLength: [[UInt8]] = {
        var t = [[UInt8]](repeating: [], count: 32)
        for (i, e) in table.enumerated() where e.name.utf8.count < 31 {
            t[e.name.utf8.count].append(UInt8(i))
        }
        return t
    }()
}

extension SIPHeaderName {
    public static let via = SIPHeaderName(known: 0)
    public static let from = SIPHeaderName(known: 1)
    public static let to = SIPHeaderName(known: 2)
    public static let callID = SIPHeaderName(known: 3)
    public static let cseq = SIPHeaderName(known: 4)
    public static let contact = SIPHeaderName(known: 5)
    public static let maxForwards = SIPHeaderName(known: 6)
    public static let route = SIPHeaderName(known: 7)
    public static let recordRoute = SIPHeaderName(known: 8)
    public static let expires = SIPHeaderName(known: 9)
    public static let event = SIPHeaderName(known: 10)
    public static let subscriptionState = SIPHeaderName(known: 11)
    public static let contentType = SIPHeaderName(known: 12)
    public static let contentLength = SIPHeaderName(known: 13)
    public static let contentEncoding = SIPHeaderName(known: 14)
    public static let wwwAuthenticate = SIPHeaderName(known: 15)
    public static let proxyAuthenticate = SIPHeaderName(known: 16)
    public static let authorization = SIPHeaderName(known: 17)
    public static let proxyAuthorization = SIPHeaderName(known: 18)
    public static let allow = SIPHeaderName(known: 19)
    public static let allowEvents = SIPHeaderName(known: 20)
    public static let accept = SIPHeaderName(known: 21)
    public static let minExpires = SIPHeaderName(known: 22)
    public static let supported = SIPHeaderName(known: 23)
    public static let subject = SIPHeaderName(known: 24)
    public static let userAgent = SIPHeaderName(known: 33)
    public static let server = SIPHeaderName(known: 34)
    public static let retryAfter = SIPHeaderName(known: 35)
    public static let require = SIPHeaderName(known: 36)
    public static let unsupported = SIPHeaderName(known: 37)
    public static let sipETag = SIPHeaderName(known: 38)
    public static let sipIfMatch = SIPHeaderName(known: 39)
    public static let authenticationInfo = SIPHeaderName(known: 43)

    /// Headers that may appear at most once in a message (RFC 3261 §20: they are not lists).
    static let singletons: Set<UInt8> = [1, 2, 3, 4, 6, 13]
}
