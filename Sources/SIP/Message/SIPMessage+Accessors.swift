/// Typed access to the headers mwid uses. Getters parse on demand and throw a
/// `SIPHeaderError` naming the header when it is malformed; an absent header is `nil`
/// (or an empty list). Setters write the canonical form.
extension SIPMessage {
    /// Every Via element, top first, across all Via fields.
    public func vias() throws(SIPHeaderError) -> [SIPVia] {
        try headers.parseList(.via) { (b, r) throws(SIPSyntaxError) in try SIPVia.parse(b, r) }
    }

    public func topVia() throws(SIPHeaderError) -> SIPVia? {
        guard let i = headers.firstIndex(of: .via) else { return nil }
        do {
            return try headers.withValueBytes(at: i) { (b, r) throws(SIPSyntaxError) in
                try SIPVia.parse(b, r, firstOfList: true)
            }
        } catch {
            throw SIPHeaderError(header: "Via", reason: error.message)
        }
    }

    public func from() throws(SIPHeaderError) -> SIPNameAddress? { try headers.parseFirst(.from, SIPNameAddress.parse) }
    public func to() throws(SIPHeaderError) -> SIPNameAddress? { try headers.parseFirst(.to, SIPNameAddress.parse) }
    public var callID: String? { headers.first(.callID) }
    public func cseq() throws(SIPHeaderError) -> SIPCSeq? { try headers.parseFirst(.cseq, SIPCSeq.parse) }

    /// Contact elements; `Contact: *` (REGISTER only) yields an empty list and
    /// `contactIsWildcard`.
    public func contacts() throws(SIPHeaderError) -> [SIPNameAddress] {
        if contactIsWildcard { return [] }
        return try headers.parseList(.contact, SIPNameAddress.parse)
    }

    public var contactIsWildcard: Bool { headers.first(.contact).map { $0 == "*" } ?? false }

    public func routes() throws(SIPHeaderError) -> [SIPNameAddress] { try headers.parseList(.route, SIPNameAddress.parse) }
    public func recordRoutes() throws(SIPHeaderError) -> [SIPNameAddress] { try headers.parseList(.recordRoute, SIPNameAddress.parse) }

    public func maxForwards() throws(SIPHeaderError) -> Int? {
        try headers.parseFirst(.maxForwards) { (b, r) throws(SIPSyntaxError) in Int(try SIPHeaderValues.parseNumber(b, r, max: 255)) }
    }

    /// `Expires` in seconds (larger values are taken as 2^32-1).
    public func expires() throws(SIPHeaderError) -> UInt32? { try headers.parseFirst(.expires, SIPHeaderValues.parseDeltaSeconds) }
    public func minExpires() throws(SIPHeaderError) -> UInt32? { try headers.parseFirst(.minExpires, SIPHeaderValues.parseDeltaSeconds) }

    public func event() throws(SIPHeaderError) -> SIPEvent? { try headers.parseFirst(.event, SIPEvent.parse) }
    public func subscriptionState() throws(SIPHeaderError) -> SIPSubscriptionState? {
        try headers.parseFirst(.subscriptionState, SIPSubscriptionState.parse)
    }
    public func contentType() throws(SIPHeaderError) -> SIPMediaType? { try headers.parseFirst(.contentType, SIPMediaType.parse) }

    public func contentLength() throws(SIPHeaderError) -> Int? {
        try headers.parseFirst(.contentLength) { (b, r) throws(SIPSyntaxError) in Int(try SIPHeaderValues.parseNumber(b, r, max: UInt64(Int32.max))) }
    }

    /// Methods listed in `Allow`.
    public func allow() throws(SIPHeaderError) -> [SIPMethod] {
        try headers.parseList(.allow) { (b, r) throws(SIPSyntaxError) in SIPMethod(try SIPHeaderValues.parseToken(b, r)) }
    }

    /// Media ranges listed in `Accept`; `nil` when the header is absent (which means
    /// `application/sdp` for INVITE and the package default for SUBSCRIBE), empty when
    /// present but empty.
    public func accept() throws(SIPHeaderError) -> [SIPMediaType]? {
        guard headers.contains(.accept) else { return nil }
        return try headers.parseList(.accept, SIPMediaType.parse)
    }

    public func wwwAuthenticate() throws(SIPHeaderError) -> [SIPAuthHeader] { try authHeaders(.wwwAuthenticate) }
    public func proxyAuthenticate() throws(SIPHeaderError) -> [SIPAuthHeader] { try authHeaders(.proxyAuthenticate) }
    public func authorization() throws(SIPHeaderError) -> [SIPAuthHeader] { try authHeaders(.authorization) }
    public func proxyAuthorization() throws(SIPHeaderError) -> [SIPAuthHeader] { try authHeaders(.proxyAuthorization) }

    /// One element per field: auth headers hold commas inside a value, so they are not
    /// split as lists.
    private func authHeaders(_ name: SIPHeaderName) throws(SIPHeaderError) -> [SIPAuthHeader] {
        var out: [SIPAuthHeader] = []
        for i in 0..<headers.count where headers.matches(headers.fields[i], name) {
            do {
                out.append(try headers.withValueBytes(at: i, SIPAuthHeader.parse))
            } catch {
                throw SIPHeaderError(header: name.canonicalName, reason: error.message)
            }
        }
        return out
    }
}
