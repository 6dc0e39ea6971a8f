// Character classes of the RFC 3261 grammar (section 25.1), as byte tables.

@usableFromInline
enum ASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58
    static let semicolon: UInt8 = 59
    static let comma: UInt8 = 44
    static let equals: UInt8 = 61
    static let quote: UInt8 = 34
    static let backslash: UInt8 = 92
    static let lessThan: UInt8 = 60
    static let greaterThan: UInt8 = 62
    static let slash: UInt8 = 47
    static let at: UInt8 = 64
    static let percent: UInt8 = 37
    static let question: UInt8 = 63
    static let ampersand: UInt8 = 38
    static let openBracket: UInt8 = 91
    static let closeBracket: UInt8 = 93
    static let openParen: UInt8 = 40
    static let closeParen: UInt8 = 41
    static let dot: UInt8 = 46
    static let plus: UInt8 = 43
    static let minus: UInt8 = 45

    @inline(__always)
    static func isWhitespace(_ c: UInt8) -> Bool { c == space || c == tab }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    @inline(__always)
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 97 && (c | 0x20) <= 122 }

    @inline(__always)
    static func isAlphanumeric(_ c: UInt8) -> Bool { isDigit(c) || isAlpha(c) }

    @inline(__always)
    static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || ((c | 0x20) >= 97 && (c | 0x20) <= 102)
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        if isDigit(c) { return c - 48 }
        let l = c | 0x20
        if l >= 97 && l <= 102 { return l - 87 }
        return nil
    }

    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 { c &- 65 < 26 ? c | 0x20 : c }

    /// `token` characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
    @inline(__always)
    static func isTokenChar(_ c: UInt8) -> Bool { inMask(c, 0x03ff_6ca2_0000_0000, 0x47ff_ffff_87ff_fffe) }

    /// `word` characters (Call-ID): token chars plus ( ) < > : \ " / [ ] ? { }.
    @inline(__always)
    static func isWordChar(_ c: UInt8) -> Bool { inMask(c, 0xd7ff_efa6_0000_0000, 0x6fff_ffff_bfff_fffe) }

    /// `unreserved` = alphanum / mark.
    @inline(__always)
    static func isUnreserved(_ c: UInt8) -> Bool { inMask(c, 0x03ff_6782_0000_0000, 0x47ff_fffe_87ff_fffe) }

    /// `isTokenChar` as a 256-byte table (non-zero: a token byte), allocated once for the
    /// process: the header-name scan reads one byte per character instead of testing masks.
    static let tokenTable = ByteTable(isTokenChar)

    /// `isWordChar` as a table, for the same reason (every Call-ID is checked byte by byte).
    static let wordTable = ByteTable(isWordChar)

    /// A byte class as a table that is never freed (read-only after it is made).
    struct ByteTable: @unchecked Sendable {
        let bytes: UnsafePointer<UInt8>

        init(_ member: (UInt8) -> Bool) {
            bytes = UnsafePointer(processLifetimeCopy((0..<256).map { member(UInt8($0)) ? 1 : 0 }))
        }

        @inline(__always)
        subscript(_ c: Int) -> UInt8 { bytes[c] }
    }

    /// Character classes as two 64-bit masks over ASCII (no table, no lazy global).
    @inline(__always)
    static func inMask(_ c: UInt8, _ low: UInt64, _ high: UInt64) -> Bool {
        // One select and one shift: no branch on which half the byte is in.
        c < 128 && ((c < 64 ? low : high) >> UInt64(c & 63)) & 1 == 1
    }

    /// Characters that may appear in a header value line (TEXT-UTF8, LWS, and anything
    /// printable): everything but controls other than HTAB.
    @inline(__always)
    static func isValueChar(_ c: UInt8) -> Bool { c >= 32 ? c != 127 : c == tab }

    /// Case-insensitive comparison of ASCII bytes.
    static func equalsIgnoringCase(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var i = a.startIndex
        var j = b.startIndex
        while i != a.endIndex {
            if lower(a[i]) != lower(b[j]) { return false }
            a.formIndex(after: &i)
            b.formIndex(after: &j)
        }
        return true
    }

    /// Case-insensitive comparison of a byte range with an ASCII literal.
    @inline(__always)
    static func equalsIgnoringCase(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ literal: StaticString) -> Bool {
        guard r.count == literal.utf8CodeUnitCount, let base = b.baseAddress else { return false }
        let p = literal.utf8Start
        let a = base + r.lowerBound
        for k in 0..<r.count where lower(a[k]) != lower(p[k]) { return false }
        return true
    }

    static func lowercased(_ s: String) -> String {
        String(decoding: s.utf8.map(lower), as: UTF8.self)
    }

    static func isToken(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(isTokenChar)
    }

    /// Validates UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
    static func isValidUTF8(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            let need: Int
            var lo: UInt8 = 0x80
            var hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default: return false
            }
            guard end - i > need else { return false }
            let second = b[i + 1]
            guard second >= lo && second <= hi else { return false }
            var k = 2
            while k <= need {
                guard b[i + k] & 0xC0 == 0x80 else { return false }
                k += 1
            }
            i += need + 1
        }
        return true
    }
}

/// A copy of `values` in memory that is never freed: for the parser's and serializer's
/// constant tables, read without bounds checks or reference counting.
func processLifetimeCopy<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
    let memory = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
    _ = UnsafeMutableBufferPointer(start: memory, count: values.count).initialize(from: values)
    return memory
}
