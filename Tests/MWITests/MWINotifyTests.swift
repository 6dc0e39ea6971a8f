import MWI
import SIP
import SIPTransport
import Testing
import UnifiedMessaging

@Suite struct MWINotifyTests {
    let gateway = IPGateway(name: "pbx1", address: "192.0.2.10", port: 5070, dialPlans: ["Paris"])
    let alice = UMMailbox(identity: "alice@example.com", extension: "1234", dialPlan: "Paris", policy: "Default",
                          sipResourceIdentifier: nil)

    @Test func targetPerURIType() {
        let tel = DialPlan(name: "Paris", numberOfDigitsInExtension: 4)
        #expect(MWINotify.target(mailbox: alice, dialPlan: tel, gateway: gateway).description == "sip:1234@192.0.2.10:5070")
        var named = alice
        named.sipResourceIdentifier = "sip:alice@example.com"
        let sipName = DialPlan(name: "Paris", numberOfDigitsInExtension: 4, uriType: .sipName)
        #expect(MWINotify.target(mailbox: named, dialPlan: sipName, gateway: gateway).description == "sip:alice@example.com")
        var numbered = alice
        numbered.sipResourceIdentifier = "+33142685300"
        let e164 = DialPlan(name: "Paris", numberOfDigitsInExtension: 4, uriType: .e164)
        #expect(MWINotify.target(mailbox: numbered, dialPlan: e164, gateway: gateway).description
                == "sip:+33142685300@192.0.2.10:5070;user=phone")
        let v6 = IPGateway(name: "v6", address: "2001:db8::1", port: 5060)
        #expect(MWINotify.target(mailbox: alice, dialPlan: tel, gateway: v6).description == "sip:1234@[2001:db8::1]:5060")
    }

    @Test func transportFollowsTheDialPlanUnlessForced() {
        let plans: [(VoIPSecurity, SIPTransportKind)] = [(.unsecured, .tcp), (.sipSecured, .tls), (.secured, .tls)]
        for (security, expected) in plans {
            let plan = DialPlan(name: "P", numberOfDigitsInExtension: 4, voipSecurity: security)
            #expect(MWINotify.transport(for: IPGateway(name: "g", address: "h", transport: .auto), dialPlan: plan) == expected)
            #expect(MWINotify.transport(for: IPGateway(name: "g", address: "h", transport: .tls), dialPlan: plan) == .tls)
        }
        let plain = DialPlan(name: "P", numberOfDigitsInExtension: 4)
        #expect(MWINotify.transport(for: IPGateway(name: "g", address: "h", transport: .udp), dialPlan: plain) == .udp)
    }

    @Test func requestIsTheUnsolicitedNotifyOfTheSpec() throws {
        let plan = DialPlan(name: "Paris", numberOfDigitsInExtension: 4)
        let request = MWINotify.request(state: MessageWaitingState(new: 2, old: 8, urgentNew: 1), mailbox: alice, dialPlan: plan,
                                        gateway: gateway, transport: .tcp, localHost: "192.0.2.1", localPort: 5060)
        let text = String(decoding: request.serialize(), as: UTF8.self)
        #expect(text.hasPrefix("NOTIFY sip:1234@192.0.2.10:5070 SIP/2.0\r\n"))
        #expect(text.contains("To: <sip:1234@192.0.2.10:5070>\r\n"))
        #expect(text.contains("Event: message-summary\r\n"))
        #expect(text.contains("Subscription-State: terminated;reason=noresource\r\n"))
        #expect(text.contains("Contact: <sip:mwid@192.0.2.1:5060;transport=tcp>\r\n"))
        #expect(text.contains("Content-Type: application/simple-message-summary\r\n"))
        #expect(text.hasSuffix("\r\n\r\nMessages-Waiting: yes\r\nMessage-Account: sip:1234@192.0.2.10:5070\r\nVoice-Message: 2/8 (1/0)\r\n"))
        // The body reads back (what the PBX will do).
        #expect(try MessageSummary(parsing: request.body)[.voice] == .init(new: 2, old: 8, urgentNew: 1, urgentOld: 0))
    }
}
