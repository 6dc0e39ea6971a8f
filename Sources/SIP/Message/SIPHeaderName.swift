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
        var bytes = name
        known = bytes.withUTF8 { Self.lookup($0, 0..<$0.count) }
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

    /// Resolution from a byte range (used outside the hot path).
    static func lookup(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt8? {
        guard let base = b.baseAddress, !r.isEmpty else { return nil }
        return nameIndex.lookup(slot: NameIndex.slot(base + r.lowerBound, r.count), b, r)
    }

    /// The parser's index of known names: an open-addressing table keyed by a hash of a
    /// name's length and three of its bytes, confirmed by one comparison of words. Its
    /// tables live in memory allocated once for the process's lifetime, so a look-up
    /// costs neither bounds checks nor reference counting.
    struct NameIndex: @unchecked Sendable {
        let slots: UnsafeMutablePointer<UInt8>  // 512 slots: table index + 1, 0 = empty
        let lowerNames: UnsafeMutablePointer<UInt8>  // every name case-folded, back to back
        let offsets: UnsafeMutablePointer<Int>  // start of name i in lowerNames; offsets[i + 1] its end
        let compact: UnsafeMutablePointer<UInt8>  // 256 entries: table index + 1 for a compact form

        /// The slot a name of `n >= 1` bytes hashes to: its length and its first, middle
        /// and last bytes, folded. That tells the known names apart (two of them land
        /// one slot further on), and the name scan need not hash every byte.
        @inline(__always)
        static func slot(_ name: UnsafePointer<UInt8>, _ n: Int) -> Int {
            var h = UInt32(truncatingIfNeeded: n) &* 0x9E37_79B1
            h ^= UInt32(fold(name[0])) &* 0x85EB_CA77
            h ^= UInt32(fold(name[n >> 1])) &* 0x27D4_EB2F
            h ^= UInt32(fold(name[n - 1])) &* 0xC2B2_AE3D
            return Int((h ^ (h >> 15)) & 511)
        }

        /// Case folding for token bytes: `| 0x20` lower-cases letters and is one-to-one on
        /// the other token characters (`_` becomes 0x7F, which no token holds).
        @inline(__always)
        static func fold(_ c: UInt8) -> UInt8 { c | 0x20 }

        /// Whether the `n` bytes at `name`, case-folded, are the `n` folded bytes at `known`
        /// (n >= 2): whole words compared, the last one overlapping the one before it
        /// rather than reading past either name.
        @inline(__always)
        static func foldedEqual(_ name: UnsafePointer<UInt8>, _ known: UnsafePointer<UInt8>, _ n: Int) -> Bool {
            let a = UnsafeRawPointer(name)
            let k = UnsafeRawPointer(known)
            if n >= 8 {
                var at = 0
                while at + 8 < n {
                    guard a.loadUnaligned(fromByteOffset: at, as: UInt64.self) | 0x2020_2020_2020_2020
                        == k.loadUnaligned(fromByteOffset: at, as: UInt64.self) else { return false }
                    at += 8
                }
                return a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) | 0x2020_2020_2020_2020
                    == k.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            }
            if n >= 4 {
                return a.loadUnaligned(as: UInt32.self) | 0x2020_2020 == k.loadUnaligned(as: UInt32.self)
                    && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) | 0x2020_2020
                    == k.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            }
            return a.loadUnaligned(as: UInt16.self) | 0x2020 == k.loadUnaligned(as: UInt16.self)
                && a.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self) | 0x2020
                == k.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self)
        }

        init(_ table: [Entry]) {
            var names: [UInt8] = []
            var offsets: [Int] = []
            var slots = [UInt8](repeating: 0, count: 512)
            var compact = [UInt8](repeating: 0, count: 256)
            for (i, e) in table.enumerated() {
                offsets.append(names.count)
                let lower = e.name.utf8.map(Self.fold)
                names.append(contentsOf: lower)
                var slot = lower.withUnsafeBufferPointer { b in b.baseAddress.map { Self.slot($0, b.count) } ?? 0 }
                while slots[slot] != 0 { slot = (slot + 1) & 511 }
                slots[slot] = UInt8(i + 1)
                if let c = e.compact?.asciiValue { compact[Int(c)] = UInt8(i + 1) }
            }
            offsets.append(names.count)
            self.slots = processLifetimeCopy(slots)
            lowerNames = processLifetimeCopy(names)
            self.offsets = processLifetimeCopy(offsets)
            self.compact = processLifetimeCopy(compact)
        }

        @inline(__always)
        func lookup(slot first: Int, _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt8? {
            guard let base = b.baseAddress, !r.isEmpty else { return nil }
            let name = base + r.lowerBound
            if r.count == 1 {
                let v = compact[Int(ASCII.lower(name[0]))]
                return v == 0 ? nil : v - 1
            }
            var slot = first
            while true {
                let v = slots[slot]
                if v == 0 { return nil }
                let i = Int(v - 1)
                let start = offsets[i]
                if offsets[i + 1] - start == r.count, Self.foldedEqual(name, UnsafePointer(lowerNames + start), r.count) {
                    return UInt8(i)
                }
                slot = (slot + 1) & 511
            }
        }
    }

    static let nameIndex = NameIndex(table)

    /// The canonical names of the known headers as bytes, back to back in memory that
    /// lives as long as the process (no reference counting on the serializer's path).
    struct NameBytes: @unchecked Sendable {
        let bytes: UnsafeMutablePointer<UInt8>
        let offsets: UnsafeMutablePointer<Int>

        init(_ table: [Entry]) {
            var names: [UInt8] = []
            var offsets: [Int] = []
            for entry in table {
                offsets.append(names.count)
                names.append(contentsOf: entry.name.utf8)
            }
            offsets.append(names.count)
            bytes = processLifetimeCopy(names)
            self.offsets = processLifetimeCopy(offsets)
        }

        @inline(__always)
        func name(_ known: UInt8) -> UnsafeRawBufferPointer {
            let start = offsets[Int(known)]
            return UnsafeRawBufferPointer(start: bytes + start, count: offsets[Int(known) + 1] - start)
        }
    }

    static let canonicalNameBytes = NameBytes(table)
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
    static let singletonMask: UInt64 = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 6 | 1 << 13
}
