public import SIP
public import SIPTransport
public import UnifiedMessaging

/// What a lamp's NOTIFY is made of (SPEC §2.3, §2.4): pure functions of the directory
/// objects and the state, so that every form can be tested without a network.
public enum MWINotify {
    /// The transport for a gateway: its own when forced, else TLS for `SIPSecured` and
    /// `Secured` dial plans and TCP for `Unsecured` ones (as Exchange does).
    public static func transport(for gateway: IPGateway, dialPlan: DialPlan) -> SIPTransportKind {
        switch gateway.transport {
        case .udp: .udp
        case .tcp: .tcp
        case .tls: .tls
        case .auto: dialPlan.voipSecurity.requiresTLS ? .tls : .tcp
        }
    }

    /// The URI naming the user's endpoint at this gateway: `sip:EXT@PEER` (TelExtn), the
    /// user's SIP URI (SipName), `sip:+E164@PEER;user=phone` (E164).
    public static func target(mailbox: UMMailbox, dialPlan: DialPlan, gateway: IPGateway) -> SIPURI {
        // An IPv6 literal is written in brackets in a SIP URI.
        let address = gateway.address
        let host = address.utf8.contains(UInt8(ascii: ":")) && !address.hasPrefix("[") ? "[\(address)]" : address
        let port = UInt16(clamping: gateway.port)
        switch dialPlan.uriType {
        case .telExtn:
            return SIPURI(user: mailbox.extension, host: host, port: port)
        case .sipName:
            if let text = mailbox.sipResourceIdentifier, let uri = try? SIPURI(parsing: text) { return uri }
            return SIPURI(user: mailbox.extension, host: host, port: port)
        case .e164:
            let number = mailbox.sipResourceIdentifier ?? mailbox.extension
            return SIPURI(user: number, host: host, port: port, parameters: [("user", "phone")])
        }
    }

    /// The RFC 3842 body for a state.
    public static func summary(_ state: MessageWaitingState, account: SIPURI) -> MessageSummary {
        func clamp(_ n: Int) -> UInt32 { UInt32(clamping: max(0, n)) }
        return MessageSummary(voice: .init(new: clamp(state.new), old: clamp(state.old), urgentNew: clamp(state.urgentNew),
                                           urgentOld: clamp(state.urgentOld)),
                              messageAccount: account.description)
    }

    /// An unsolicited NOTIFY (`Subscription-State: terminated`), from mwid at `localHost:localPort`.
    public static func request(state: MessageWaitingState, mailbox: UMMailbox, dialPlan: DialPlan, gateway: IPGateway,
                               transport: SIPTransportKind, localHost: String, localPort: Int, cseq: UInt32 = 1,
                               using rng: inout some RandomNumberGenerator) -> SIPMessage {
        request(state: state, mailbox: mailbox, dialPlan: dialPlan, gateway: gateway, transport: transport, localHost: localHost,
                localPort: localPort, cseq: cseq, callID: SIPIdentifiers.callID(using: &rng), fromTag: SIPIdentifiers.tag(using: &rng))
    }

    public static func request(state: MessageWaitingState, mailbox: UMMailbox, dialPlan: DialPlan, gateway: IPGateway,
                               transport: SIPTransportKind, localHost: String, localPort: Int, cseq: UInt32 = 1,
                               callID: String = SIPIdentifiers.callID(), fromTag: String = SIPIdentifiers.tag()) -> SIPMessage {
        let target = target(mailbox: mailbox, dialPlan: dialPlan, gateway: gateway)
        let body = summary(state, account: target).bytes
        var contactParameters = SIPParameters()
        if transport != .udp { contactParameters.set("transport", transport.rawValue) }
        return SIPMessage.request(
            method: .notify, uri: target,
            from: SIPNameAddress(uri: SIPURI(user: "mwid", host: localHost), parameters: [("tag", fromTag)]),
            to: SIPNameAddress(uri: target),
            callID: callID, cseq: cseq,
            contact: SIPNameAddress(uri: SIPURI(user: "mwid", host: localHost, port: UInt16(clamping: localPort),
                                                parameters: contactParameters)),
            headers: [(.event, "message-summary"), (.subscriptionState, "terminated;reason=noresource")],
            contentType: .simpleMessageSummary, body: body)
    }
}
