extension SIPMessage {
    /// The message on the wire: start line, headers under their full canonical names in
    /// their order, `Content-Length` set to the body's exact size (added at the end when
    /// missing), an empty line, the body.
    public func serialize() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headers.storage.count + headers.count * 4 + body.count + 96)
        serialize(into: &out)
        return out
    }

    public func serialize(into out: inout [UInt8]) {
        switch startLine {
        case .request(let method, let uri):
            out.append(contentsOf: method.rawValue.utf8)
            out.append(ASCII.space)
            uri.write(into: &out)
            out.append(contentsOf: " SIP/2.0\r\n".utf8)
        case .response(let code, let reason):
            out.append(contentsOf: "SIP/2.0 ".utf8)
            Self.appendDecimal(code, to: &out)
            out.append(ASCII.space)
            out.append(contentsOf: reason.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        let contentLengthID = SIPHeaderName.contentLength.known
        var wroteContentLength = false
        headers.storage.withUnsafeBufferPointer { b in
            for f in headers.fields {
                if f.known == contentLengthID {
                    if wroteContentLength { continue }
                    wroteContentLength = true
                    out.append(contentsOf: "Content-Length: ".utf8)
                    Self.appendDecimal(body.count, to: &out)
                    out.append(contentsOf: "\r\n".utf8)
                    continue
                }
                if f.known == SIPHeaders.Field.unknown {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: b[f.nameRange]))
                } else {
                    out.append(contentsOf: SIPHeaderName.table[Int(f.known)].name.utf8)
                }
                out.append(ASCII.colon)
                out.append(ASCII.space)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[f.valueRange]))
                out.append(ASCII.cr)
                out.append(ASCII.lf)
            }
        }
        if !wroteContentLength {
            out.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(body.count, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(ASCII.cr)
        out.append(ASCII.lf)
        out.append(contentsOf: body)
    }

    /// The serialized message as text (for logs and tests).
    public var text: String { String(decoding: serialize(), as: UTF8.self) }

    @inline(__always)
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(48 + value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = value.magnitude
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            }
            if value < 0 { out.append(ASCII.minus) }
            while n > 0 {
                n -= 1
                out.append(d[n])
            }
        }
    }
}
