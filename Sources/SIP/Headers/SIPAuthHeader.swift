/// A challenge (`WWW-Authenticate`, `Proxy-Authenticate`) or credentials (`Authorization`,
/// `Proxy-Authorization`): a scheme and comma-separated `name=value` parameters.
public struct SIPAuthHeader: Sendable, Hashable, CustomStringConvertible {
    public struct Parameter: Sendable, Hashable {
        public var name: String
        /// Unquoted value.
        public var value: String
        /// Whether the value is written as a quoted-string.
        public var quoted: Bool

        public init(name: String, value: String, quoted: Bool) {
            self.name = name
            self.value = value
            self.quoted = quoted
        }
    }

    public var scheme: String
    public var parameters: [Parameter]

    public init(scheme: String, parameters: [Parameter] = []) {
        self.scheme = scheme
        self.parameters = parameters
    }

    public subscript(_ name: String) -> String? {
        parameters.first { ASCII.equalsIgnoringCase($0.name.utf8, name.utf8) }?.value
    }

    public mutating func set(_ name: String, _ value: String, quoted: Bool) {
        if let i = parameters.firstIndex(where: { ASCII.equalsIgnoringCase($0.name.utf8, name.utf8) }) {
            parameters[i] = Parameter(name: name, value: value, quoted: quoted)
        } else {
            parameters.append(Parameter(name: name, value: value, quoted: quoted))
        }
    }

    public var isDigest: Bool { ASCII.equalsIgnoringCase(scheme.utf8, "Digest".utf8) }

    public var description: String {
        scheme + " " + parameters.map { p in
            p.name + "=" + (p.quoted ? SIPQuoting.quote(p.value) : p.value)
        }.joined(separator: ", ")
    }

    public init(parsing text: String) throws(SIPSyntaxError) {
        self = try withUTF8Bytes(text) { (b: UnsafeBufferPointer<UInt8>) throws(SIPSyntaxError) -> SIPAuthHeader in
            try SIPAuthHeader.parse(b, 0..<b.count)
        }
    }

    /// auth-scheme LWS auth-param *( COMMA auth-param )
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPSyntaxError) -> SIPAuthHeader {
        var reader = ByteReader(b, range: r)
        reader.skipWhitespace()
        guard let scheme = reader.readToken() else { throw SIPSyntaxError("missing auth scheme") }
        var header = SIPAuthHeader(scheme: reader.string(scheme))
        reader.skipWhitespace()
        while !reader.atEnd {
            guard let name = reader.readToken(), reader.consume(ASCII.equals) else { throw SIPSyntaxError("bad auth parameter") }
            if reader.peek(ASCII.quote) {
                let q = try reader.readQuotedString()
                header.parameters.append(Parameter(name: reader.string(name), value: reader.unquote(q), quoted: true))
            } else {
                let v = reader.read { ASCII.isTokenChar($0) || $0 == ASCII.slash || $0 == ASCII.colon || $0 == ASCII.equals }
                guard !v.isEmpty else { throw SIPSyntaxError("empty auth parameter value") }
                header.parameters.append(Parameter(name: reader.string(name), value: reader.string(v), quoted: false))
            }
            guard header.parameters.count <= SIPURI.maxParameters else { throw SIPSyntaxError("too many auth parameters") }
            reader.skipWhitespace()
            if reader.atEnd { break }
            guard reader.consume(ASCII.comma) else { throw SIPSyntaxError("expected ',' between auth parameters") }
        }
        return header
    }
}
