/// A forward cursor over the bytes of one header value (already unfolded: LWS is plain
/// SP/HTAB there). Used by every typed header parser; never reads outside `pos..<end`.
struct ByteReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>? = nil) {
        self.bytes = bytes
        self.pos = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    var atEnd: Bool { pos >= end }

    var remaining: Range<Int> { pos..<end }

    func peek() -> UInt8? { pos < end ? bytes[pos] : nil }

    func peek(_ c: UInt8) -> Bool { pos < end && bytes[pos] == c }

    mutating func advance() { if pos < end { pos += 1 } }

    /// Skips SP and HTAB.
    @inline(__always)
    mutating func skipWhitespace() {
        var i = pos
        while i < end, ASCII.isWhitespace(bytes[i]) { i += 1 }
        pos = i
    }

    /// Consumes `c` (with optional whitespace around it) when it is next.
    mutating func consume(_ c: UInt8, allowingWhitespace: Bool = true) -> Bool {
        let saved = pos
        if allowingWhitespace { skipWhitespace() }
        if pos < end, bytes[pos] == c {
            pos += 1
            if allowingWhitespace { skipWhitespace() }
            return true
        }
        pos = saved
        return false
    }

    /// Reads a run of bytes satisfying `predicate`.
    @inline(__always)
    mutating func read(while predicate: (UInt8) -> Bool) -> Range<Int> {
        // A local index: the loop need not store the cursor back at every byte.
        let start = pos
        var i = pos
        let stop = end
        while i < stop, predicate(bytes[i]) { i += 1 }
        pos = i
        return start..<i
    }

    mutating func readToken() -> Range<Int>? {
        let r = read(while: ASCII.isTokenChar)
        return r.isEmpty ? nil : r
    }

    /// Reads a quoted-string starting at `"`; returns the range including both quotes.
    /// Escapes (`\x`) are allowed for any byte except CR and LF.
    mutating func readQuotedString() throws(SIPSyntaxError) -> Range<Int> {
        let start = pos
        guard peek(ASCII.quote) else { throw SIPSyntaxError("expected a quoted string") }
        pos += 1
        while pos < end {
            let c = bytes[pos]
            if c == ASCII.backslash {
                guard pos + 1 < end else { break }
                let next = bytes[pos + 1]
                guard next != ASCII.cr && next != ASCII.lf else { break }
                pos += 2
            } else if c == ASCII.quote {
                pos += 1
                return start..<pos
            } else {
                pos += 1
            }
        }
        throw SIPSyntaxError("unterminated quoted string")
    }

    func string(_ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    func bytesEqual(_ r: Range<Int>, ignoringCase literal: StaticString) -> Bool {
        ASCII.equalsIgnoringCase(bytes, r, literal)
    }

    /// Decodes a quoted-string range (with its quotes) into its content, unescaping `\x`.
    func unquote(_ r: Range<Int>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(r.count)
        var i = r.lowerBound + 1
        let stop = r.upperBound - 1
        while i < stop {
            if bytes[i] == ASCII.backslash, i + 1 < stop {
                out.append(bytes[i + 1])
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Trailing whitespace trimmed from a range.
    func trimmed(_ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound
        var hi = r.upperBound
        while lo < hi, ASCII.isWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, ASCII.isWhitespace(bytes[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    /// Parses a decimal number of at most `max`, leading zeros allowed.
    /// The digits are consumed even when the number is too large.
    mutating func readNumber(max: UInt64) -> UInt64? {
        var i = pos
        var value: UInt64 = 0
        var tooLarge = false
        // Up to here `value * 10 + 9` cannot overflow; beyond `max` the value no longer matters.
        let plain = Swift.min(max, (UInt64.max - 9) / 10)
        while i < end {
            let digit = bytes[i] &- 48
            guard digit < 10 else { break }
            if value <= plain {
                value = value &* 10 &+ UInt64(digit)
            } else if !tooLarge {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(digit))
                if o1 || o2 { tooLarge = true } else { value = s }
            }
            i += 1
        }
        guard i > pos else { return nil }
        pos = i
        return tooLarge || value > max ? nil : value
    }
}

/// Runs `body` over the UTF-8 bytes of a string without copying when it is native.
func withUTF8Bytes<R>(
    _ s: String, _ body: (UnsafeBufferPointer<UInt8>) throws(SIPSyntaxError) -> R
) throws(SIPSyntaxError) -> R {
    var copy = s
    let result: Result<R, SIPSyntaxError> = copy.withUTF8 { buffer in
        do throws(SIPSyntaxError) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// Splits `r` at outer-level commas (not inside quotes, `<>` or `()`), trimming each part.
/// Empty elements are dropped. Throws on unbalanced quotes or nesting deeper than `maxDepth`.
func splitList(
    _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, maxDepth: Int = SIPParser.Limits.default.maxNestingDepth
) throws(SIPSyntaxError) -> [Range<Int>] {
    var parts: [Range<Int>] = []
    var reader = ByteReader(b, range: r)
    var start = r.lowerBound
    var angle = false
    var parens = 0
    while !reader.atEnd {
        let c = b[reader.pos]
        switch c {
        case ASCII.quote:
            _ = try reader.readQuotedString()
            continue
        case ASCII.lessThan where parens == 0:
            angle = true
        case ASCII.greaterThan where parens == 0:
            angle = false
        case ASCII.openParen where !angle:
            parens += 1
            if parens > maxDepth { throw SIPSyntaxError("nesting too deep") }
        case ASCII.closeParen where !angle && parens > 0:
            parens -= 1
        case ASCII.comma where !angle && parens == 0:
            let part = reader.trimmed(start..<reader.pos)
            if !part.isEmpty { parts.append(part) }
            start = reader.pos + 1
        default:
            break
        }
        reader.pos += 1
    }
    if angle { throw SIPSyntaxError("unbalanced '<'") }
    let last = reader.trimmed(start..<r.upperBound)
    if !last.isEmpty { parts.append(last) }
    return parts
}

/// Splits a string list value (for example `Allow: INVITE, NOTIFY`) into trimmed parts.
func splitList(_ s: String) throws(SIPSyntaxError) -> [String] {
    try withUTF8Bytes(s) { (b: UnsafeBufferPointer<UInt8>) throws(SIPSyntaxError) -> [String] in
        let reader = ByteReader(b)
        return try splitList(b, 0..<b.count).map { reader.string($0) }
    }
}
