#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses SIP messages straight from bytes.
///
/// Two framings share one parser: a datagram holds exactly one message (`Content-Length`
/// may be absent, the rest of the datagram is then the body), and a stream needs
/// `Content-Length` to find where a message ends (see `SIPStreamParser`). CRLF keep-alives
/// before a message are skipped. Every failure is a `SIPParseError` with a reason; limits
/// bound the memory and time any input can cost.
public enum SIPParser {
    public struct Limits: Sendable, Equatable {
        /// Largest message (start line, headers and body), in bytes.
        public var maxMessageSize: Int
        /// Most header fields (lines, not list elements).
        public var maxHeaderCount: Int
        /// Longest header field, continuation lines included, in bytes.
        public var maxHeaderLineLength: Int
        /// Deepest nesting of comments and brackets inside a header value.
        public var maxNestingDepth: Int

        public init(maxMessageSize: Int = 65_536, maxHeaderCount: Int = 256, maxHeaderLineLength: Int = 8_192, maxNestingDepth: Int = 16) {
            self.maxMessageSize = maxMessageSize
            self.maxHeaderCount = maxHeaderCount
            self.maxHeaderLineLength = maxHeaderLineLength
            self.maxNestingDepth = maxNestingDepth
        }

        public static let `default` = Limits()
    }

    /// Parses one message from a datagram.
    public static func parseDatagram(_ bytes: UnsafeRawBufferPointer, limits: Limits = .default) throws(SIPParseError) -> SIPMessage {
        let b = bytes.bindMemory(to: UInt8.self)
        let start = skipKeepAlive(b, from: 0)
        guard start < b.count else { throw SIPParseError(.empty, "Empty message") }
        let region = UnsafeBufferPointer(rebasing: b[start...])
        let head = try parseHead(region, limits: limits, datagram: true)
        let bodyAvailable = region.count - head.headEnd
        var bodyLength = bodyAvailable
        // Written out, the message gains a Content-Length: it must still fit the limit
        // (else the message would be accepted here and refused everywhere it is sent).
        if head.contentLength == nil, head.fields.count >= limits.maxHeaderCount {
            throw SIPParseError(.tooManyHeaders, "Too many header fields")  // dropped, like any message over the limit
        }
        if let declared = head.contentLength {
            guard declared <= bodyAvailable else {
                throw head.error(.contentLengthExceedsMessage, "Content-Length larger than the message", region)
            }
            bodyLength = declared
        }
        guard head.headEnd + bodyLength <= limits.maxMessageSize else {
            throw head.error(.messageTooLarge, "Message too large", region)
        }
        return head.message(region, bodyLength: bodyLength)
    }

    public static func parseDatagram(_ bytes: [UInt8], limits: Limits = .default) throws(SIPParseError) -> SIPMessage {
        let result: Result<SIPMessage, SIPParseError> = bytes.withUnsafeBytes { raw in
            do throws(SIPParseError) { return .success(try parseDatagram(raw, limits: limits)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses a message from text with datagram framing (handy in tests and tools).
    public static func parse(_ text: String, limits: Limits = .default) throws(SIPParseError) -> SIPMessage {
        try parseDatagram(Array(text.utf8), limits: limits)
    }

    /// Index of the first byte after any leading CRLF / LF keep-alives.
    static func skipKeepAlive(_ b: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var i = from
        while i < b.count {
            if b[i] == ASCII.lf {
                i += 1
            } else if b[i] == ASCII.cr, i + 1 < b.count, b[i + 1] == ASCII.lf {
                i += 2
            } else {
                break
            }
        }
        return i
    }

    /// Offset just past the empty line that ends the headers (LF LF, CRLF CRLF or a mix),
    /// searching from `from`; `nil` when it is not in the buffer yet.
    static func findEndOfHeaders(_ b: UnsafeBufferPointer<UInt8>, from: Int, limit: Int) -> Int? {
        var i = max(from, 0)
        let end = min(b.count, limit)
        while i < end {
            if b[i] == ASCII.lf {
                if i + 1 < b.count, b[i + 1] == ASCII.lf { return i + 2 }
                if i + 2 < b.count, b[i + 1] == ASCII.cr, b[i + 2] == ASCII.lf { return i + 3 }
            }
            i += 1
        }
        return nil
    }
}

// MARK: - The head: start line and header fields

extension SIPParser {
    /// A start line as the parser reads it: a request's URI stays a checked byte range.
    enum ParsedStartLine {
        case request(method: SIPMethod, uri: Range<Int>)
        case response(statusCode: Int, reasonPhrase: String)
    }

    struct Head {
        var startLine: ParsedStartLine?
        var isRequest = false
        var fields: [SIPHeaders.Field] = []
        /// Unfolded values of fields that spanned several lines, by field index.
        var folded: [(field: Int, bytes: [UInt8])] = []
        var headEnd = 0
        var contentLength: Int?
        /// Whether Via, From, To, Call-ID and CSeq were read and the top Via, Call-ID and
        /// CSeq parse (what a response needs to reach the client's transaction).
        var answerable = false

        /// The message, copying the head and `bodyLength` body bytes into its own storage.
        func message(_ b: UnsafeBufferPointer<UInt8>, bodyLength: Int) -> SIPMessage {
            let total = headEnd + bodyLength
            var storage: [UInt8] = []
            storage.reserveCapacity(total + folded.reduce(0) { $0 + $1.bytes.count })
            storage.append(contentsOf: UnsafeBufferPointer(rebasing: b[0..<total]))
            var fields = fields
            for f in folded {
                fields[f.field].valueStart = UInt32(storage.count)
                storage.append(contentsOf: f.bytes)
                fields[f.field].valueEnd = UInt32(storage.count)
            }
            let body = storage[headEnd..<total]
            let line: SIPMessage.Line
            switch startLine {
            case .request(let method, let uri): line = .parsedRequest(method: method, uri: storage[uri])
            case .response(let code, let reason): line = .given(.response(statusCode: code, reasonPhrase: reason))
            // A start line is always present once parseHead has returned.
            case nil: line = .given(.response(statusCode: 500, reasonPhrase: ""))
            }
            return SIPMessage(line: line, headers: SIPHeaders(storage: storage, fields: fields), body: body)
        }

        /// The headers read so far, when a response can be formed.
        func answerableHeaders(_ b: UnsafeBufferPointer<UInt8>) -> SIPHeaders? {
            guard answerable, isRequest else { return nil }
            return message(b, bodyLength: 0).headers
        }

        func error(_ kind: SIPParseError.Kind, _ reason: String, _ b: UnsafeBufferPointer<UInt8>) -> SIPParseError {
            SIPParseError(kind, reason, headers: answerableHeaders(b), isRequest: isRequest)
        }
    }

    /// Parses the start line and headers of the message at the start of `b`.
    static func parseHead(_ b: UnsafeBufferPointer<UInt8>, limits: Limits, datagram: Bool) throws(SIPParseError) -> Head {
        var head = Head()
        // About one field per 32 bytes of message: room from the start (a SUBSCRIBE with
        // 19 fields outgrew 16 and paid a second allocation and a copy).
        head.fields.reserveCapacity(max(16, min(64, b.count / 32)))
        var firstError: SIPParseError?
        let end = b.count

        // Start line.
        let firstLineEnd = lineEnd(b, from: 0, end: end)
        guard firstLineEnd.contentEnd <= limits.maxHeaderLineLength else {
            throw SIPParseError(.headerTooLong, "Start line too long")
        }
        head.isRequest = !startsWithSIPVersion(b, 0)
        do {
            head.startLine = try parseStartLine(b, 0..<firstLineEnd.contentEnd)
        } catch {
            firstError = error
        }

        // Header fields.
        var pos = firstLineEnd.next
        var sawEmptyLine = false
        var current: (name: Range<Int>, slot: Int, valueStart: Int, valueEnd: Int, folded: Bool, highBit: Bool)?
        let names = SIPHeaderName.nameIndex
        let token = ASCII.tokenTable

        func finish() throws(SIPParseError) {
            guard let c = current else { return }
            current = nil
            // The limit first, as for any field (before the value's own checks).
            guard head.fields.count < limits.maxHeaderCount else {
                throw SIPParseError(.tooManyHeaders, "Too many header fields")
            }
            if c.folded {
                let unfolded = unfold(b, c.valueStart..<c.valueEnd)
                if c.highBit, !unfolded.withUnsafeBufferPointer({ ASCII.isValidUTF8($0, 0..<$0.count) }) {
                    if firstError == nil { firstError = SIPParseError(.invalidUTF8, "Invalid UTF-8 in header value") }
                    return
                }
                try append(c.name, slot: c.slot, value: c.valueStart..<c.valueEnd)
                head.folded.append((head.fields.count - 1, unfolded))
            } else {
                var valueEnd = c.valueEnd
                while valueEnd > c.valueStart, ASCII.isWhitespace(b[valueEnd - 1]) { valueEnd -= 1 }
                if c.highBit, !ASCII.isValidUTF8(b, c.valueStart..<valueEnd) {
                    if firstError == nil { firstError = SIPParseError(.invalidUTF8, "Invalid UTF-8 in header value") }
                    return
                }
                try append(c.name, slot: c.slot, value: c.valueStart..<valueEnd)
            }
        }

        /// Adds a field whose value is in place (trailing whitespace already dropped).
        func append(_ name: Range<Int>, slot: Int, value: Range<Int>) throws(SIPParseError) {
            guard head.fields.count < limits.maxHeaderCount else {
                throw SIPParseError(.tooManyHeaders, "Too many header fields")
            }
            head.fields.append(SIPHeaders.Field(
                nameStart: UInt32(name.lowerBound), nameEnd: UInt32(name.upperBound),
                valueStart: UInt32(value.lowerBound), valueEnd: UInt32(value.upperBound),
                known: names.lookup(slot: slot, b, name) ?? SIPHeaders.Field.unknown))
        }

        while pos < end {
            // Most lines are `Name: printable ASCII` CRLF: read in one pass.
            if ASCII.isTokenChar(b[pos]), let fast = plainHeaderLine(b, from: pos, end: end, token: token) {
                // Usually no field is pending (no continuation line came before): no call then.
                if current != nil { try finish() }
                guard fast.contentEnd - pos <= limits.maxHeaderLineLength else {
                    throw SIPParseError(.headerTooLong, "Header field too long")
                }
                let name = pos..<fast.nameEnd
                pos = fast.next
                if pos < end, ASCII.isWhitespace(b[pos]) {
                    // A continuation line follows: the field is finished after it.
                    current = (name, fast.slot, fast.valueStart, fast.contentEnd, false, false)
                    continue
                }
                // Complete: no pending field to carry to the next line.
                var valueEnd = fast.contentEnd
                while valueEnd > fast.valueStart, b[valueEnd - 1] == ASCII.space { valueEnd -= 1 }
                try append(name, slot: fast.slot, value: fast.valueStart..<valueEnd)
                continue
            }
            let line = lineEnd(b, from: pos, end: end)
            if line.contentEnd == pos {
                // The empty line ends the headers (a bare end of datagram does too).
                try finish()
                sawEmptyLine = line.next > pos
                pos = line.next
                break
            }
            if ASCII.isWhitespace(b[pos]) {
                // Continuation of the previous field's value.
                guard var c = current else {
                    if firstError == nil { firstError = SIPParseError(.malformedHeaderLine, "Continuation line without a header") }
                    pos = line.next
                    continue
                }
                c.folded = true
                switch scanValue(b, pos..<line.contentEnd) {
                case .bad:
                    if firstError == nil { firstError = SIPParseError(.invalidCharacter, "Control character in header value") }
                case .highBit: c.highBit = true
                case .ascii: break
                }
                c.valueEnd = line.contentEnd
                guard c.valueEnd - c.name.lowerBound <= limits.maxHeaderLineLength else {
                    throw SIPParseError(.headerTooLong, "Header field too long")
                }
                current = c
                pos = line.next
                continue
            }
            try finish()
            guard line.contentEnd - pos <= limits.maxHeaderLineLength else {
                throw SIPParseError(.headerTooLong, "Header field too long")
            }
            // name *WS ":" *WS value
            var i = pos
            while i < line.contentEnd, ASCII.isTokenChar(b[i]) { i += 1 }
            let name = pos..<i
            while i < line.contentEnd, ASCII.isWhitespace(b[i]) { i += 1 }
            guard !name.isEmpty, i < line.contentEnd, b[i] == ASCII.colon else {
                if firstError == nil { firstError = SIPParseError(.malformedHeaderLine, "Malformed header line") }
                pos = line.next
                continue
            }
            i += 1
            while i < line.contentEnd, ASCII.isWhitespace(b[i]) { i += 1 }
            let scan = scanValue(b, i..<line.contentEnd)
            let highBit = scan == .highBit
            if scan == .bad {
                if firstError == nil { firstError = SIPParseError(.invalidCharacter, "Control character in header \(String(decoding: UnsafeBufferPointer(rebasing: b[name]), as: UTF8.self))") }
                pos = line.next
                continue
            }
            let slot = b.baseAddress.map { SIPHeaderName.NameIndex.slot($0 + name.lowerBound, name.count) } ?? 0
            current = (name, slot, i, line.contentEnd, false, highBit)
            pos = line.next
        }
        try finish()
        head.headEnd = pos
        if !sawEmptyLine && !datagram {
            throw SIPParseError(.incompleteHeaders, "Headers not terminated by an empty line")
        }

        validate(&head, b, firstError: &firstError)
        if var e = firstError {
            e.isRequest = head.isRequest
            e.headers = head.answerableHeaders(b)
            throw e
        }
        return head
    }

    /// Checks the headers every message needs and reads Content-Length.
    private static func validate(_ head: inout Head, _ b: UnsafeBufferPointer<UInt8>, firstError: inout SIPParseError?) {
        func fail(_ kind: SIPParseError.Kind, _ reason: String) {
            if firstError == nil { firstError = SIPParseError(kind, reason) }
        }
        // First field index of each known header, and duplicates of those that must be single.
        var firsts = InlineArray<16, Int32>(repeating: -1)  // known headers 0..<16 are the ones checked here
        var seenMask: UInt64 = 0
        for (i, f) in head.fields.enumerated() where f.known != SIPHeaders.Field.unknown {
            let bit: UInt64 = 1 << UInt64(f.known & 63)
            if seenMask & bit != 0, SIPHeaderName.singletonMask & bit != 0 {
                let name = SIPHeaderName.table[Int(f.known)].name
                fail(.duplicateHeader(name), "Duplicate \(name) header")
            }
            if seenMask & bit == 0, f.known < 16 { firsts[Int(f.known)] = Int32(i) }
            seenMask |= bit
        }
        enum Outcome<R> {
            case absent, invalid, valid(R)
            var value: R? { if case .valid(let v) = self { return v } else { return nil } }
        }
        func check<R>(_ name: SIPHeaderName, _ body: (UnsafeBufferPointer<UInt8>, Range<Int>) throws(SIPSyntaxError) -> R) -> Outcome<R> {
            guard let k = name.known, k < 16, firsts[Int(k)] >= 0 else { return .absent }
            let index = Int(firsts[Int(k)])
            do throws(SIPSyntaxError) {
                if !head.folded.isEmpty, let f = head.folded.first(where: { $0.field == index }) {
                    let r: Result<R, SIPSyntaxError> = f.bytes.withUnsafeBufferPointer { fb in
                        do throws(SIPSyntaxError) { return .success(try body(fb, 0..<fb.count)) } catch { return .failure(error) }
                    }
                    return .valid(try r.get())
                }
                return .valid(try body(b, head.fields[index].valueRange))
            } catch {
                if name == .contentLength {
                    fail(.invalidContentLength, "Invalid Content-Length")
                } else {
                    fail(.malformedHeader(name.canonicalName), "Malformed \(name.canonicalName) header")
                }
                return .invalid
            }
        }

        // Content-Length: framing depends on it.
        let contentLength = check(.contentLength) { (b, r) throws(SIPSyntaxError) in
            try SIPHeaderValues.parseNumber(b, r, max: UInt64(Int32.max))
        }
        if let cl = contentLength.value { head.contentLength = Int(cl) }
        let topVia = check(.via) { (b, r) throws(SIPSyntaxError) in
            try SIPVia.check(b, r, firstOfList: true)
        }
        let cseq = check(.cseq) { (b, r) throws(SIPSyntaxError) in try SIPCSeq.parse(b, r) }
        // From and To: their structure now (quotes and brackets closed, a URI inside); every
        // part when someone reads them (`from()`, `to()` throw a SIPHeaderError then).
        _ = check(.from) { (b, r) throws(SIPSyntaxError) in try SIPNameAddress.checkStructure(b, r) }
        _ = check(.to) { (b, r) throws(SIPSyntaxError) in try SIPNameAddress.checkStructure(b, r) }
        let callID = check(.callID) { (b, r) throws(SIPSyntaxError) in try SIPHeaderValues.validateCallID(b, r) }
        _ = check(.maxForwards) { (b, r) throws(SIPSyntaxError) in try SIPHeaderValues.parseNumber(b, r, max: 255) }

        var allPresent = true
        for name in Self.requiredHeaders where firsts[Int(name.known ?? 0)] < 0 {
            fail(.missingHeader(name.canonicalName), "Missing \(name.canonicalName) header")
            allPresent = false
        }
        if allPresent, topVia.value != nil, callID.value != nil, cseq.value != nil {
            head.answerable = true
        }
        if case .request(let method, _) = head.startLine, let c = cseq.value, c.method != method {
            fail(.cseqMethodMismatch, "CSeq method does not match the request method")
        }
    }

    /// What every message carries (RFC 3261 §8.1.1).
    static let requiredHeaders: [SIPHeaderName] = [.via, .from, .to, .callID, .cseq]

    /// A header line `token *WS ":" *WS value` whose value is printable ASCII (no tab,
    /// no byte above 0x7E) and which ends in CRLF or LF, read in one pass: where its name
    /// ends (and the name's slot in the known-name index), where its value starts, where
    /// its content ends and where the next line starts. Nil for any other line: the
    /// careful path reads it then.
    @inline(__always)
    static func plainHeaderLine(_ b: UnsafeBufferPointer<UInt8>, from pos: Int, end: Int, token: ASCII.ByteTable)
        -> (nameEnd: Int, slot: Int, valueStart: Int, contentEnd: Int, next: Int)? {
        guard let base = b.baseAddress else { return nil }
        var i = pos
        while i < end, token[Int(base[i])] != 0 { i += 1 }
        let nameEnd = i
        guard nameEnd > pos else { return nil }
        let slot = SIPHeaderName.NameIndex.slot(base + pos, nameEnd - pos)
        while i < end, base[i] == ASCII.space { i += 1 }
        guard i < end, base[i] == ASCII.colon else { return nil }
        i += 1
        while i < end, base[i] == ASCII.space { i += 1 }
        let valueStart = i
        i = printableRunEnd(base, from: i, to: end)
        guard i < end else { return nil }
        if base[i] == ASCII.lf { return (nameEnd, slot, valueStart, i, i + 1) }
        if base[i] == ASCII.cr, i + 1 < end, base[i + 1] == ASCII.lf { return (nameEnd, slot, valueStart, i, i + 2) }
        return nil
    }

    /// Where the run of printable ASCII (0x20...0x7E) starting at `from` ends: the first
    /// other byte, or `to`. Eight bytes at a time; the lowest byte flagged in a word is the
    /// first that is not printable (a borrow or carry only starts at a flagged byte and
    /// moves up), so the scan lands on it directly.
    @inline(__always)
    static func printableRunEnd(_ base: UnsafePointer<UInt8>, from: Int, to end: Int) -> Int {
        var i = from
        // Two words per round: most values are longer than eight bytes.
        while end &- i >= 16 {
            let x = notPrintable(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
            let y = notPrintable(UnsafeRawPointer(base + i).loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if x | y != 0 {
                return x != 0 ? i &+ x.trailingZeroBitCount >> 3 : i &+ 8 &+ y.trailingZeroBitCount >> 3
            }
            i &+= 16
        }
        if end &- i >= 8 {
            let x = notPrintable(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
            if x != 0 { return i &+ x.trailingZeroBitCount >> 3 }
            i &+= 8
        }
        while i < end, base[i] &- 32 < 95 { i &+= 1 }
        return i
    }

    /// The high bit of each byte of `word` (as read from memory) that is not printable
    /// ASCII, and possibly of bytes above the lowest such byte.
    @inline(__always)
    static func notPrintable(_ word: UInt64) -> UInt64 {
        let x = UInt64(littleEndian: word)
        let low = (x &- 0x2020_2020_2020_2020) & ~x
        let high = (x &+ 0x0101_0101_0101_0101) | x
        return (low | high) & 0x8080_8080_8080_8080
    }

    enum ValueScan { case ascii, highBit, bad }

    /// Checks the bytes of a value line: control characters are refused unless escaped by
    /// a backslash (a quoted-pair may carry any byte but CR and LF).
    @inline(__always)
    static func scanValue(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> ValueScan {
        // Fast path: printable ASCII only (a byte below 0x20 or at/above 0x7F sends the
        // line to the careful loop below).
        if let base = b.baseAddress, printableRunEnd(base, from: r.lowerBound, to: r.upperBound) == r.upperBound {
            return .ascii
        }
        var result = ValueScan.ascii
        var escaped = false
        for k in r {
            let ch = b[k]
            if ch >= 0x80 {
                result = .highBit
            } else if !ASCII.isValueChar(ch) && !escaped {
                return .bad
            }
            escaped = !escaped && ch == ASCII.backslash
        }
        return result
    }

    // MARK: Lines

    /// The end of the line starting at `from`: where its content stops (before CR LF or LF)
    /// and where the next line starts. A line without LF runs to `end`.
    @inline(__always)
    static func lineEnd(_ b: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> (contentEnd: Int, next: Int) {
        guard from < end, let base = b.baseAddress,
              let hit = memchr(base + from, Int32(ASCII.lf), end - from)
        else { return (end, end) }
        let i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        let contentEnd = (i > from && b[i - 1] == ASCII.cr) ? i - 1 : i
        return (contentEnd, i + 1)
    }

    /// Whether the bytes at `at` are "SIP/", in any case (the start of a status line and
    /// of every SIP-Version): one four-byte comparison.
    @inline(__always)
    static func startsWithSIPVersion(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Bool {
        guard at >= 0, b.count - at >= 4, let base = b.baseAddress else { return false }
        let word = UInt32(littleEndian: UnsafeRawPointer(base + at).loadUnaligned(as: UInt32.self))
        // A byte with bit 5 set equals "s", "i" or "p" only when it is that letter in either
        // case; the fourth byte must be "/" itself. "sip/" read little-endian is 0x2F706973.
        return word | 0x0020_2020 == 0x2F70_6973
    }

    /// Replaces each line break and the whitespace around it with one space, and trims.
    static func unfold(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(r.count)
        var i = r.lowerBound
        while i < r.upperBound {
            let c = b[i]
            if c == ASCII.cr || c == ASCII.lf {
                while let last = out.last, ASCII.isWhitespace(last) { out.removeLast() }
                while i < r.upperBound, b[i] == ASCII.cr || b[i] == ASCII.lf || ASCII.isWhitespace(b[i]) { i += 1 }
                if !out.isEmpty { out.append(ASCII.space) }
                continue
            }
            out.append(c)
            i += 1
        }
        while let last = out.last, ASCII.isWhitespace(last) { out.removeLast() }
        return out
    }

    // MARK: Start line

    static func parseStartLine(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPParseError) -> ParsedStartLine {
        if startsWithSIPVersion(b, r.lowerBound) {
            // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
            var reader = ByteReader(b, range: r)
            try parseVersion(&reader)
            guard reader.consume(ASCII.space, allowingWhitespace: false) else {
                throw SIPParseError(.malformedStartLine, "Malformed status line")
            }
            let codeStart = reader.pos
            guard let code = reader.readNumber(max: 999), reader.pos - codeStart == 3, (100...699).contains(code) else {
                throw SIPParseError(.invalidStatusCode, "Invalid status code")
            }
            var reason = ""
            if reader.consume(ASCII.space, allowingWhitespace: false) {
                let rest = reader.remaining
                for i in rest where !ASCII.isValueChar(b[i]) && b[i] < 0x80 {
                    throw SIPParseError(.malformedStartLine, "Control character in reason phrase")
                }
                guard ASCII.isValidUTF8(b, rest) else { throw SIPParseError(.invalidUTF8, "Invalid UTF-8 in reason phrase") }
                reason = reader.string(rest)
            } else if !reader.atEnd {
                throw SIPParseError(.malformedStartLine, "Malformed status line")
            }
            return .response(statusCode: Int(code), reasonPhrase: reason)
        }
        // Request-Line = Method SP Request-URI SP SIP-Version
        var reader = ByteReader(b, range: r)
        guard let methodRange = reader.readToken(), reader.consume(ASCII.space, allowingWhitespace: false) else {
            throw SIPParseError(.malformedStartLine, "Malformed request line")
        }
        let uriStart = reader.pos
        var uriEnd = uriStart
        while uriEnd < r.upperBound, b[uriEnd] != ASCII.space { uriEnd += 1 }
        guard uriEnd > uriStart, uriEnd < r.upperBound else {
            throw SIPParseError(.malformedStartLine, "Malformed request line")
        }
        reader.pos = uriEnd + 1
        try parseVersion(&reader)
        guard reader.atEnd else { throw SIPParseError(.malformedStartLine, "Malformed request line") }
        do {
            // Checked now; the SIPURI is built when asked for (SIPMessage.requestURI).
            try SIPURI.check(b, uriStart..<uriEnd, allowParametersAndHeaders: true)
        } catch {
            throw SIPParseError(.invalidRequestURI, "Invalid Request-URI: \(error.message)")
        }
        return .request(method: SIPMethod.named(b, methodRange), uri: uriStart..<uriEnd)
    }

    /// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; only 2.0 is accepted.
    private static func parseVersion(_ reader: inout ByteReader) throws(SIPParseError) {
        guard reader.end - reader.pos >= 4, startsWithSIPVersion(reader.bytes, reader.pos) else {
            throw SIPParseError(.malformedStartLine, "Malformed SIP version")
        }
        reader.pos += 4
        let major = reader.readNumber(max: 999_999)
        guard major != nil, reader.consume(ASCII.dot, allowingWhitespace: false), let minor = reader.readNumber(max: 999_999) else {
            throw SIPParseError(.malformedStartLine, "Malformed SIP version")
        }
        guard major == 2, minor == 0 else { throw SIPParseError(.unsupportedVersion, "SIP Version Not Supported") }
    }
}
