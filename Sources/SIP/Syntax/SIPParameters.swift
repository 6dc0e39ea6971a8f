/// An ordered list of `;name[=value]` parameters. Names are matched case-insensitively;
/// names and values are kept verbatim (a quoted value keeps its quotes), so unknown
/// parameters survive a round trip untouched.
public struct SIPParameters: Sendable, Hashable, Sequence, ExpressibleByArrayLiteral {
    public struct Parameter: Sendable, Hashable {
        public var name: String
        /// `nil` for a flag parameter such as `;lr` or `;rport`.
        public var value: String?

        public init(name: String, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var items: [Parameter]

    public init() { items = [] }

    public init(_ items: [Parameter]) { self.items = items }

    public init(arrayLiteral elements: (String, String?)...) {
        items = elements.map { Parameter(name: $0.0, value: $0.1) }
    }

    public var isEmpty: Bool { items.isEmpty }
    public var count: Int { items.count }

    public func makeIterator() -> IndexingIterator<[Parameter]> { items.makeIterator() }

    /// True when a parameter of that name is present (with or without a value).
    public func contains(_ name: String) -> Bool { index(of: name) != nil }

    /// The value of the first parameter of that name: `.some(nil)` for a flag,
    /// `nil` when absent.
    public subscript(_ name: String) -> String?? {
        guard let i = index(of: name) else { return nil }
        return .some(items[i].value)
    }

    /// The value with surrounding quotes removed and escapes resolved.
    public func unquotedValue(_ name: String) -> String? {
        guard let v = self[name] ?? nil else { return nil }
        return SIPQuoting.unquote(v)
    }

    /// Sets (replacing the first occurrence, keeping its position) or appends.
    public mutating func set(_ name: String, _ value: String?) {
        if let i = index(of: name) {
            items[i].value = value
        } else {
            items.append(Parameter(name: name, value: value))
        }
    }

    public mutating func remove(_ name: String) {
        items.removeAll { ASCII.equalsIgnoringCase($0.name.utf8, name.utf8) }
    }

    func index(of name: String) -> Int? {
        items.firstIndex { ASCII.equalsIgnoringCase($0.name.utf8, name.utf8) }
    }

    /// `;a=b;c` — each parameter preceded by `;`.
    public var description: String {
        var out = ""
        for p in items {
            out += ";"
            out += p.name
            if let v = p.value {
                out += "="
                out += v
            }
        }
        return out
    }

    /// Order-insensitive, case-insensitive comparison of names and values
    /// (quoted values compared exactly).
    func equalsIgnoringCase(_ other: SIPParameters) -> Bool {
        guard items.count == other.items.count else { return false }
        for p in items {
            guard let v = other[p.name] else { return false }
            switch (p.value, v) {
            case (nil, nil): continue
            case let (a?, b?):
                if a.hasPrefix("\"") { if a != b { return false } } else if !ASCII.equalsIgnoringCase(a.utf8, b.utf8) { return false }
            default: return false
            }
        }
        return true
    }
}

extension SIPParameters {
    /// Parses `*( ";" name [ "=" value ] )` from the reader. Stops before the first byte
    /// that cannot continue the list (for example `?` or `,`). `isValueChar` says which
    /// unquoted bytes a value may hold; whitespace around `;` and `=` is allowed when
    /// `allowWhitespace`.
    /// With `build` false the list is only checked: nothing is kept (an empty list comes
    /// back) and no string is made.
    static func parse(
        _ r: inout ByteReader, allowWhitespace: Bool, maxCount: Int,
        isNameChar: (UInt8) -> Bool = ASCII.isTokenChar,
        isValueChar: (UInt8) -> Bool, build: Bool = true
    ) throws(SIPSyntaxError) -> SIPParameters {
        var params = SIPParameters()
        var count = 0
        while r.consume(ASCII.semicolon, allowingWhitespace: allowWhitespace) {
            let name = r.read(while: isNameChar)
            guard !name.isEmpty else { throw SIPSyntaxError("empty parameter name") }
            var value: Range<Int>?
            if r.consume(ASCII.equals, allowingWhitespace: allowWhitespace) {
                if r.peek(ASCII.quote) {
                    value = try r.readQuotedString()
                } else {
                    let v = r.read(while: isValueChar)
                    guard !v.isEmpty else { throw SIPSyntaxError("empty value for parameter '\(r.string(name))'") }
                    value = v
                }
            }
            guard count < maxCount else { throw SIPSyntaxError("too many parameters") }
            count += 1
            if build {
                var text: String?
                if let value { text = r.string(value) }
                params.items.append(Parameter(name: r.string(name), value: text))
            }
            if allowWhitespace { r.skipWhitespace() }
        }
        return params
    }

    /// gen-value characters in header parameters: token chars plus host characters
    /// (`:` and `[]` for IPv6 references).
    static func isHeaderValueChar(_ c: UInt8) -> Bool {
        ASCII.isTokenChar(c) || c == ASCII.colon || c == ASCII.openBracket || c == ASCII.closeBracket
    }
}

/// Quoting helpers for quoted-string values.
public enum SIPQuoting {
    /// Removes surrounding quotes and resolves `\x` escapes; returns the input unchanged
    /// when it is not quoted.
    public static func unquote(_ s: String) -> String {
        let u = Array(s.utf8)
        guard u.count >= 2, u.first == ASCII.quote, u.last == ASCII.quote else { return s }
        return u.withUnsafeBufferPointer { b in ByteReader(b).unquote(0..<b.count) }
    }

    /// Wraps in quotes, escaping `"` and `\`.
    public static func quote(_ s: String) -> String {
        // Nearly always nothing to escape: one copy, not a character at a time.
        if !s.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) { return "\"" + s + "\"" }
        var out = "\""
        for ch in s.unicodeScalars {
            if ch == "\"" || ch == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(ch)
        }
        out += "\""
        return out
    }
}
