#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A name-addr or addr-spec with header parameters, as in From, To, Contact, Route and
/// Record-Route: `"Alice" <sip:alice@example.com>;tag=1928301774`.
public struct SIPNameAddress: Sendable, Hashable, CustomStringConvertible {
    /// The display name, unquoted; `nil` when absent.
    public var displayName: String?
    public var uri: SIPURI
    /// Header parameters (after the URI): `tag`, `expires`, `q`, `lr` of a Route, …
    public var parameters: SIPParameters

    public init(displayName: String? = nil, uri: SIPURI, parameters: SIPParameters = []) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public var tag: String? {
        get { parameters["tag"] ?? nil }
        set { if let newValue { parameters.set("tag", newValue) } else { parameters.remove("tag") } }
    }

    /// Always written in name-addr form (`<uri>`), the display name quoted.
    public var description: String {
        var out = ""
        if let displayName, !displayName.isEmpty {
            out += SIPQuoting.quote(displayName)
            out += " "
        }
        out += "<"
        out += uri.description
        out += ">"
        out += parameters.description
        return out
    }

    public init(parsing text: String) throws(SIPSyntaxError) {
        self = try withUTF8Bytes(text) { (b: UnsafeBufferPointer<UInt8>) throws(SIPSyntaxError) -> SIPNameAddress in
            try SIPNameAddress.parse(b, 0..<b.count)
        }
    }

    /// A cheap check that does not build the value: not empty, quoted strings closed, a
    /// `<` closed by `>` around something that starts like a URI (`scheme:`).
    static func checkStructure(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        guard !reader.atEnd else { throw SIPSyntaxError("empty address") }
        var uriStart = reader.pos
        var sawAngle = false
        while !reader.atEnd {
            let c = b[reader.pos]
            if c == ASCII.quote {
                _ = try reader.readQuotedString()
                continue
            }
            if c == ASCII.lessThan {
                guard !sawAngle else { throw SIPSyntaxError("more than one '<'") }
                sawAngle = true
                uriStart = reader.pos + 1
                guard let base = b.baseAddress, uriStart < reader.end,
                      let close = memchr(base + uriStart, Int32(ASCII.greaterThan), reader.end - uriStart)
                else { throw SIPSyntaxError("missing '>'") }
                reader.pos = base.distance(to: close.assumingMemoryBound(to: UInt8.self))
            } else if !sawAngle, c == ASCII.semicolon {
                break
            }
            reader.pos += 1
        }
        var scheme = ByteReader(b, range: uriStart..<r.upperBound)
        scheme.skipWhitespace()
        guard let first = scheme.peek(), ASCII.isAlpha(first) else { throw SIPSyntaxError("address without a URI") }
        _ = scheme.read { ASCII.isAlphanumeric($0) || $0 == ASCII.plus || $0 == ASCII.minus || $0 == ASCII.dot }
        guard scheme.peek(ASCII.colon) else { throw SIPSyntaxError("URI without a scheme") }
    }

    /// ( name-addr / addr-spec ) *( SEMI generic-param )
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> SIPNameAddress {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        var displayName: String?
        var uri: SIPURI
        // Is there a '<' at the outer level (outside a quoted display name)?
        var angle: Int?
        var probe = reader
        while !probe.atEnd {
            let c = b[probe.pos]
            if c == ASCII.quote {
                _ = try probe.readQuotedString()
                continue
            }
            if c == ASCII.lessThan {
                angle = probe.pos
                break
            }
            if c == ASCII.semicolon || c == ASCII.comma { break }
            probe.pos += 1
        }
        if let angle {
            if reader.peek(ASCII.quote) {
                displayName = reader.unquote(try reader.readQuotedString())
                reader.skipWhitespace()
                guard reader.pos == angle else { throw SIPSyntaxError("text between display name and '<'") }
            } else {
                let words = reader.trimmed(reader.pos..<angle)
                for i in words where !(ASCII.isTokenChar(b[i]) || ASCII.isWhitespace(b[i]) || b[i] >= 0x80) {
                    throw SIPSyntaxError("invalid display name")
                }
                if !words.isEmpty { displayName = reader.string(words) }
            }
            reader.pos = angle + 1
            let uriStart = reader.pos
            while !reader.atEnd, b[reader.pos] != ASCII.greaterThan { reader.pos += 1 }
            guard !reader.atEnd else { throw SIPSyntaxError("missing '>'") }
            // LWS is allowed just inside the brackets only by lenient peers; trim it.
            uri = try SIPURI.parse(b, reader.trimmed(uriStart..<reader.pos), allowParametersAndHeaders: true)
            reader.pos += 1
        } else {
            // addr-spec: the URI ends at the first ';' or whitespace; what follows are
            // header parameters.
            let uriStart = reader.pos
            while !reader.atEnd, b[reader.pos] != ASCII.semicolon, !ASCII.isWhitespace(b[reader.pos]) { reader.pos += 1 }
            uri = try SIPURI.parse(b, uriStart..<reader.pos, allowParametersAndHeaders: false)
        }
        let params = try SIPParameters.parse(
            &reader, allowWhitespace: true, maxCount: SIPURI.maxParameters, isValueChar: SIPParameters.isHeaderValueChar)
        reader.skipWhitespace()
        guard reader.atEnd else { throw SIPSyntaxError("unexpected text after address") }
        return SIPNameAddress(displayName: displayName, uri: uri, parameters: params)
    }
}
