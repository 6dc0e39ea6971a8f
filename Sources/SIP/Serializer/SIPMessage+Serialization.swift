extension SIPMessage {
    /// The message on the wire: start line (a parsed request's URI as it came, a built
    /// one's in canonical form), headers under their full canonical names in their order,
    /// `Content-Length` set to the body's exact size (added at the end when missing), an
    /// empty line, the body. Counted first, then written into one array of
    /// the exact size.
    public func serialize() -> [UInt8] {
        var counter = ByteCounter()
        write(to: &counter)
        let size = counter.count
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            guard let base = buffer.baseAddress else {
                initialized = 0
                return
            }
            var writer = ByteWriter(base: base, capacity: size)
            write(to: &writer)
            initialized = writer.count
        }
    }

    /// Appends the message on the wire to `out`.
    public func serialize(into out: inout [UInt8]) { write(to: &out) }

    func write<Sink: ByteSink>(to out: inout Sink) {
        switch line {
        case .parsedRequest(let method, let uri):
            // Checked when parsed: written as it came, like the header values.
            out.append(method.rawValue)
            out.append(ASCII.space)
            uri.withUnsafeBufferPointer { out.append($0) }
            out.append(" SIP/2.0\r\n" as StaticString)
        case .given(.request(let method, let uri)):
            out.append(method.rawValue)
            out.append(ASCII.space)
            uri.write(to: &out)
            out.append(" SIP/2.0\r\n" as StaticString)
        case .given(.response(let code, let reason)):
            out.append("SIP/2.0 " as StaticString)
            out.appendDecimal(code)
            out.append(ASCII.space)
            out.append(reason)
            out.append("\r\n" as StaticString)
        }
        let contentLengthID = SIPHeaderName.contentLength.known
        let names = SIPHeaderName.canonicalNameBytes
        var wroteContentLength = false
        headers.storage.withUnsafeBufferPointer { b in
            for f in headers.fields {
                if f.known == contentLengthID {
                    if wroteContentLength { continue }
                    wroteContentLength = true
                    out.append("Content-Length: " as StaticString)
                    out.appendDecimal(body.count)
                    out.append("\r\n" as StaticString)
                    continue
                }
                if f.known == SIPHeaders.Field.unknown {
                    out.append(UnsafeBufferPointer(rebasing: b[f.nameRange]))
                } else {
                    out.append(names.name(f.known))
                }
                out.append(": " as StaticString)
                out.append(UnsafeBufferPointer(rebasing: b[f.valueRange]))
                out.append("\r\n" as StaticString)
            }
        }
        if !wroteContentLength {
            out.append("Content-Length: " as StaticString)
            out.appendDecimal(body.count)
            out.append("\r\n" as StaticString)
        }
        out.append("\r\n" as StaticString)
        body.withUnsafeBytes { out.append($0) }
    }

    /// The serialized message as text (for logs and tests).
    public var text: String { String(decoding: serialize(), as: UTF8.self) }

    @inline(__always)
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        out.appendDecimal(value)
    }
}
