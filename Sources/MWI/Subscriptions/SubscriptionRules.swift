public import SIP
public import SIPTransport
public import UnifiedMessaging

/// A SIP refusal: status, reason phrase and the headers that explain it.
public struct SIPRefusal: Error, Sendable, Equatable {
    public var statusCode: Int
    public var reason: String
    public var headers: [Header]

    public struct Header: Sendable, Equatable {
        public var name: SIPHeaderName
        public var value: String
    }

    public init(_ statusCode: Int, _ reason: String, headers: [(SIPHeaderName, String)] = []) {
        self.statusCode = statusCode
        self.reason = reason
        self.headers = headers.map { Header(name: $0.0, value: $0.1) }
    }

    /// The response to `request` that carries this refusal.
    public func response(to request: SIPMessage) -> SIPMessage {
        var response = request.makeResponse(statusCode: statusCode, reasonPhrase: reason, toTag: SIPIdentifiers.tag())
        for header in headers { response.headers.add(header.name, header.value) }
        return response
    }
}

/// What a SUBSCRIBE asks, once the checks that need only the request have passed.
public struct SubscribeIntent: Sendable, Equatable {
    public var requestURI: SIPURI
    public var callID: String
    public var cseq: UInt32
    public var fromTag: String
    /// Present for a refresh or an unsubscribe inside a dialog.
    public var toTag: String?
    public var from: SIPNameAddress
    public var to: SIPNameAddress
    public var contact: SIPURI?
    public var routeSet: [String]
    public var eventID: String?
    /// Seconds granted: the request's, capped at the maximum; 0 ends (or fetches).
    public var expires: Int
}

/// The rules of SPEC §2.7 that need nothing but the request and the settings (RFC 6665,
/// RFC 3842): pure, so that every refusal is tested without a network.
public enum SubscriptionRules {
    public static let package = "message-summary"

    /// Checks a SUBSCRIBE: the event package (489), what it accepts (406), its expiry
    /// (423 under the minimum, capped at the maximum), the headers a dialog needs (400).
    public static func check(_ request: SIPMessage, settings: SubscriptionSettings) -> Result<SubscribeIntent, SIPRefusal> {
        let event: SIPEvent?
        do { event = try request.event() } catch { return .failure(SIPRefusal(400, "Malformed Event header")) }
        guard let event, event.isPackage(package) else {
            let got = event.map { "event package \($0.package) is not served" } ?? "no Event header"
            return .failure(SIPRefusal(489, "Bad Event (\(got))", headers: [(.allowEvents, package)]))
        }
        do {
            if let accepted = try request.accept(),
               !accepted.contains(where: { $0.accepts(.simpleMessageSummary) }) {
                return .failure(SIPRefusal(406, "Not Acceptable (only application/simple-message-summary)",
                                           headers: [(.accept, SIPMediaType.simpleMessageSummary.description)]))
            }
        } catch {
            return .failure(SIPRefusal(400, "Malformed Accept header"))
        }
        guard let uri = request.requestURI, let callID = request.callID,
              let cseq = try? request.cseq(), let from = try? request.from(), let to = try? request.to() else {
            return .failure(SIPRefusal(400, "Malformed From, To or CSeq header"))
        }
        guard let fromTag = from.tag, !fromTag.isEmpty else { return .failure(SIPRefusal(400, "From header without a tag")) }
        let expires: Int
        switch grantedExpires(request, settings: settings) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let granted): expires = granted
        }
        let contacts: [SIPNameAddress]
        let routes: [SIPNameAddress]
        do {
            contacts = try request.contacts()
            routes = try request.recordRoutes()
        } catch {
            return .failure(SIPRefusal(400, "Malformed \(error.header) header"))
        }
        let contact = contacts.first?.uri
        if let contact, contact.scheme == .tel { return .failure(SIPRefusal(400, "Contact must be a SIP URI")) }
        let toTag = to.tag.flatMap { $0.isEmpty ? nil : $0 }
        if toTag == nil && contact == nil && expires > 0 {
            return .failure(SIPRefusal(400, "SUBSCRIBE without a Contact header"))
        }
        var strippedFrom = from, strippedTo = to
        strippedFrom.tag = nil
        strippedTo.tag = nil
        return .success(SubscribeIntent(
            requestURI: uri, callID: callID, cseq: cseq.sequence, fromTag: fromTag, toTag: toTag, from: strippedFrom,
            to: strippedTo, contact: contact, routeSet: routes.map(\.description), eventID: event.id, expires: expires))
    }

    /// The expiry granted to a SUBSCRIBE or a PUBLISH: the request's (the default without
    /// one), `423` with `Min-Expires` under the minimum (0 is not: it ends), capped at the
    /// maximum.
    public static func grantedExpires(_ request: SIPMessage, settings: SubscriptionSettings) -> Result<Int, SIPRefusal> {
        let requested: UInt32?
        do { requested = try request.expires() } catch { return .failure(SIPRefusal(400, "Malformed Expires header")) }
        let expires = requested.map { Int($0) } ?? settings.defaultExpires
        if expires != 0 && expires < settings.minimumExpires {
            return .failure(SIPRefusal(423, "Interval Too Brief", headers: [(.minExpires, "\(settings.minimumExpires)")]))
        }
        return .success(min(expires, settings.maximumExpires))
    }

    /// What a Request-URI can name (SPEC §2.7): the extension in its user part, and the
    /// forms a mailbox's `sipResourceIdentifier` takes (a SIP URI or an E.164 number).
    public static func lookupKeys(_ uri: SIPURI) -> (extension: String?, resourceIdentifiers: [String]) {
        guard let user = uri.user, !user.isEmpty else { return (nil, []) }
        if uri.scheme == .tel { return (user, [user]) }
        let host = uri.host.lowercased()
        return (user, [user, "sip:\(user)@\(host)", "sips:\(user)@\(host)"])
    }

    /// Whether a digest username names `mailbox`: its extension or its identity (SPEC §2.7).
    public static func username(_ username: String, names mailbox: UMMailbox) -> Bool {
        username == mailbox.extension || username.lowercased() == mailbox.identity.lowercased()
    }
}

/// The in-dialog NOTIFY of a subscription (RFC 6665 §4.2.2, RFC 3842): pure, so that its
/// form and its route are tested without a network.
public enum SubscriptionNotify {
    public static func request(_ subscription: MWISubscription, cseq: UInt32, state: MessageWaitingState,
                               subscriptionState: SIPSubscriptionState, transport: SIPTransportKind,
                               localHost: String, localPort: Int) -> SIPMessage? {
        guard let target = try? SIPURI(parsing: subscription.remoteTarget),
              var from = try? SIPNameAddress(parsing: subscription.localURI),
              var to = try? SIPNameAddress(parsing: subscription.remoteURI) else { return nil }
        from.tag = subscription.id
        to.tag = subscription.remoteTag
        var headers: [(SIPHeaderName, String)] = subscription.routeSet.map { (.route, $0) }
        headers.append((.event, SubscriptionRules.package + (subscription.eventID.map { ";id=\($0)" } ?? "")))
        headers.append((.subscriptionState, subscriptionState.description))
        var contactParameters = SIPParameters()
        if transport != .udp { contactParameters.set("transport", transport.rawValue) }
        let body = MWINotify.summary(state, account: from.uri).bytes
        return SIPMessage.request(
            method: .notify, uri: target, from: from, to: to, callID: subscription.callID, cseq: cseq,
            contact: SIPNameAddress(uri: SIPURI(user: "mwid", host: localHost, port: UInt16(clamping: localPort),
                                                parameters: contactParameters)),
            headers: headers, contentType: .simpleMessageSummary, body: body)
    }

    /// Where a NOTIFY goes, in order: the first Route when there is a route set; else
    /// back over the transport and connection the SUBSCRIBE came on (for TCP and TLS only
    /// while that connection is open), then — for TCP and TLS — a new connection to the
    /// Contact.
    public static func hops(_ subscription: MWISubscription) -> [SIPPeer] {
        let transport = SIPTransportKind(name: subscription.transport) ?? .udp
        if let first = subscription.routeSet.first, let route = try? SIPNameAddress(parsing: first) {
            return [peer(route.uri, default: transport)]
        }
        var hops: [SIPPeer] = []
        if let source = hostPort(subscription.source) {
            hops.append(SIPPeer(host: source.host, port: source.port, transport: transport,
                                existingConnectionOnly: transport.isReliable, watchesUnreachable: false))
        }
        if transport.isReliable, let target = try? SIPURI(parsing: subscription.remoteTarget) {
            hops.append(peer(target, default: transport))
        }
        return hops
    }

    static func peer(_ uri: SIPURI, default transport: SIPTransportKind) -> SIPPeer {
        let kind = uri.transportParameter.flatMap(SIPTransportKind.init(name:)) ?? (uri.isSecure ? .tls : transport)
        // Phones are many: their NOTIFYs are not watched for ICMP (a dead one times out).
        return SIPPeer(host: uri.host, port: uri.port.map(Int.init), transport: kind, watchesUnreachable: false)
    }

    /// `HOST:PORT` or `[V6]:PORT`.
    public static func hostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}
