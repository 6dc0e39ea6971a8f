/// Character sets and %HH escaping of RFC 3261 §25.1 URI components.
enum URIEscaping {
    /// user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
    @inline(__always)
    static func isUserChar(_ c: UInt8) -> Bool { ASCII.inMask(c, 0xabff_ffd2_0000_0000, 0x47ff_fffe_87ff_fffe) }

    /// password = *( unreserved / escaped / & = + $ , )
    @inline(__always)
    static func isPasswordChar(_ c: UInt8) -> Bool { ASCII.inMask(c, 0x23ff_7fd2_0000_0000, 0x47ff_fffe_87ff_fffe) }

    /// paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
    @inline(__always)
    static func isParamChar(_ c: UInt8) -> Bool { ASCII.inMask(c, 0x07ff_eff2_0000_0000, 0x47ff_fffe_afff_fffe) }

    /// hname / hvalue = *( hnv-unreserved / unreserved / escaped ); hnv-unreserved = [ ] / ? : + $
    @inline(__always)
    static func isHeaderChar(_ c: UInt8) -> Bool { ASCII.inMask(c, 0x87ff_efb2_0000_0000, 0x47ff_fffe_afff_fffe) }

    /// telephone-subscriber characters of RFC 3966 (digits, hex for local numbers,
    /// visual separators, * # +).
    @inline(__always)
    static func isTelephoneChar(_ c: UInt8) -> Bool { ASCII.inMask(c, 0x03ff_6f08_0000_0000, 0x0000_007e_0000_007e) }

    /// Characters allowed in an opaque URI of another scheme: printable, no space,
    /// no delimiters that would end it inside a header.
    static func isOpaqueChar(_ c: UInt8) -> Bool {
        c > 32 && c < 127 && c != ASCII.lessThan && c != ASCII.greaterThan && c != ASCII.quote
    }

    /// hostname = *( domainlabel "." ) toplabel [ "." ], or an IPv4 address. Underscores
    /// are tolerated (seen in the wild); empty labels are not.
    static func isValidHostName(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard !r.isEmpty, r.count <= 255, let base = b.baseAddress, ASCII.isAlphanumeric(base[r.lowerBound]) else { return false }
        // Where the current label started: a dot right after it (or a label over 63 bytes) fails.
        var labelStart = r.lowerBound
        for i in r where base[i] == ASCII.dot {
            guard i > labelStart, i - labelStart <= 63 else { return false }
            labelStart = i + 1
        }
        return r.upperBound - labelStart <= 63
    }

    /// Decodes %HH escapes; every unescaped byte must satisfy `allowed`. With `build`
    /// false only the checks are made and the text of plain input is not made.
    static func unescape(
        _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, allowed: (UInt8) -> Bool, what: String, build: Bool = true
    ) throws(SIPSyntaxError) -> String {
        // Common case: nothing escaped, every byte allowed: the bytes are the text.
        var plain = true
        for i in r where !allowed(b[i]) {
            plain = false
            break
        }
        if plain { return build ? String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) : "" }
        var out: [UInt8] = []
        out.reserveCapacity(r.count)
        var i = r.lowerBound
        while i < r.upperBound {
            let c = b[i]
            if c == ASCII.percent {
                guard i + 2 < r.upperBound, let hi = ASCII.hexValue(b[i + 1]), let lo = ASCII.hexValue(b[i + 2])
                else { throw SIPSyntaxError("bad escape in URI \(what)") }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                guard allowed(c) else { throw SIPSyntaxError("invalid character in URI \(what)") }
                out.append(c)
                i += 1
            }
        }
        let valid = out.withUnsafeBufferPointer { ASCII.isValidUTF8($0, 0..<$0.count) }
        guard valid else { throw SIPSyntaxError("URI \(what) is not valid UTF-8") }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s`, escaping every byte that `allowed` rejects as %HH.
    static func appendEscaped<Sink: ByteSink>(_ s: String, allowed: (UInt8) -> Bool, to out: inout Sink) {
        var s = s
        s.withUTF8 { bytes in
            // Nearly always nothing to escape: one copy.
            guard bytes.contains(where: { !allowed($0) }) else { return out.append(bytes) }
            for c in bytes {
                if allowed(c) {
                    out.append(c)
                } else {
                    out.append(ASCII.percent)
                    out.append(hexDigit(c >> 4))
                    out.append(hexDigit(c & 15))
                }
            }
        }
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 55 + v }
}
