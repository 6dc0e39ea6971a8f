import Foundation
import MWI
import SIP
import SIPTransport
import Testing
import UnifiedMessaging

/// The pure rules of the notifier: what a SUBSCRIBE is refused for, what a NOTIFY looks
/// like and where it goes; trusted networks and the flood guard.
@Suite struct SubscriptionRulesTests {
    let settings = SubscriptionSettings()

    func subscribe(event: String? = "message-summary", accept: String? = nil, expires: String? = "3600",
                   contact: String? = "<sip:phone@192.0.2.50:5062>", fromTag: String? = "ph1", toTag: String? = nil,
                   recordRoute: [String] = []) -> SIPMessage {
        var headers: [(SIPHeaderName, String)] = []
        if let event { headers.append((.event, event)) }
        if let accept { headers.append((.accept, accept)) }
        if let expires { headers.append((.expires, expires)) }
        for route in recordRoute { headers.append((.recordRoute, route)) }
        let uri = SIPURI(user: "1234", host: "mwid.example.com")
        return SIPMessage.request(
            method: .subscribe, uri: uri, via: SIPVia(transport: "UDP", host: "192.0.2.50", port: 5062, branch: SIPIdentifiers.branch()),
            from: SIPNameAddress(uri: uri, parameters: fromTag.map { [("tag", $0)] } ?? []),
            to: SIPNameAddress(uri: uri, parameters: toTag.map { [("tag", $0)] } ?? []),
            callID: "c1@192.0.2.50", cseq: 7, contact: contact.flatMap { try? SIPNameAddress(parsing: $0) }, headers: headers)
    }

    func refusal(_ request: SIPMessage, settings: SubscriptionSettings? = nil) -> SIPRefusal? {
        if case .failure(let refusal) = SubscriptionRules.check(request, settings: settings ?? self.settings) { return refusal }
        return nil
    }

    @Test func anotherEventPackageOrNoneIs489WithAllowEvents() {
        for event in ["presence", nil] {
            let r = refusal(subscribe(event: event))
            #expect(r?.statusCode == 489)
            #expect(r?.headers.contains { $0.name == .allowEvents && $0.value == "message-summary" } == true)
        }
        #expect(refusal(subscribe(event: "Message-Summary")) == nil, "packages compare case-insensitively")
    }

    @Test func acceptMustIncludeSimpleMessageSummary() {
        #expect(refusal(subscribe(accept: "text/plain"))?.statusCode == 406)
        #expect(refusal(subscribe(accept: "text/plain, application/simple-message-summary")) == nil)
        #expect(refusal(subscribe(accept: "application/*")) == nil)
        #expect(refusal(subscribe(accept: nil)) == nil, "no Accept: the package's default type")
    }

    @Test func expiryUnderTheMinimumIs423AndOverTheMaximumIsCapped() throws {
        let r = refusal(subscribe(expires: "59"))
        #expect(r?.statusCode == 423)
        #expect(r?.headers.contains { $0.name == .minExpires && $0.value == "60" } == true)
        let capped = try SubscriptionRules.check(subscribe(expires: "999999"), settings: settings).get()
        #expect(capped.expires == 86_400)
        let absent = try SubscriptionRules.check(subscribe(expires: nil), settings: settings).get()
        #expect(absent.expires == 3600, "RFC 3842: one hour by default")
        let zero = try SubscriptionRules.check(subscribe(expires: "0"), settings: settings).get()
        #expect(zero.expires == 0, "an unsubscribe or a fetch, never 423")
        #expect(refusal(subscribe(expires: "soon"))?.statusCode == 400)
    }

    @Test func aDialogNeedsAFromTagAndANewOneAContact() {
        #expect(refusal(subscribe(fromTag: nil))?.reason.contains("tag") == true)
        #expect(refusal(subscribe(contact: nil))?.statusCode == 400)
        #expect(refusal(subscribe(contact: nil, toTag: "m1")) == nil, "a refresh may leave the Contact out")
    }

    @Test func theRequestURINamesAnExtensionOrAResourceIdentifier() {
        let keys = SubscriptionRules.lookupKeys(SIPURI(user: "+33142685300", host: "MWID.example.com"))
        #expect(keys.extension == "+33142685300")
        #expect(keys.resourceIdentifiers == ["+33142685300", "sip:+33142685300@mwid.example.com", "sips:+33142685300@mwid.example.com"])
        #expect(SubscriptionRules.lookupKeys(SIPURI(host: "mwid.example.com")).extension == nil)
        let mailbox = UMMailbox(identity: "Alice@Example.com", extension: "1234", dialPlan: "P", policy: "D")
        #expect(SubscriptionRules.username("1234", names: mailbox))
        #expect(SubscriptionRules.username("alice@example.com", names: mailbox))
        #expect(!SubscriptionRules.username("1235", names: mailbox))
    }

    func dialog(transport: String = "udp", routeSet: [String] = [], eventID: String? = nil) -> MWISubscription {
        MWISubscription(id: "a1b2c3d4e5f60718", mailbox: "alice", callID: "c1@192.0.2.50", remoteTag: "ph1",
                        localURI: "<sip:1234@mwid.example.com>", remoteURI: "\"Alice\" <sip:1234@mwid.example.com>",
                        remoteTarget: "sip:phone@192.0.2.50:5070;transport=\(transport)", routeSet: routeSet,
                        transport: transport, source: "192.0.2.50:40001", eventID: eventID, remoteCSeq: 7,
                        localCSeqReserved: 1001, expiresAt: Date(), createdAt: Date(), subscriber: "digest 1234")
    }

    @Test func theNotifyFollowsTheDialog() throws {
        let notify = try #require(SubscriptionNotify.request(
            dialog(routeSet: ["<sip:proxy1.example.com;lr>", "<sip:proxy2.example.com;lr>"], eventID: "42"), cseq: 5,
            state: MessageWaitingState(new: 2, old: 8, urgentNew: 1), subscriptionState: SIPSubscriptionState(.active, expires: 600),
            transport: .udp, localHost: "192.0.2.1", localPort: 5060))
        #expect(notify.requestURI?.description == "sip:phone@192.0.2.50:5070;transport=udp")
        #expect(try notify.from()?.tag == "a1b2c3d4e5f60718")
        #expect(try notify.to()?.tag == "ph1")
        #expect(try notify.to()?.displayName == "Alice")
        #expect(notify.callID == "c1@192.0.2.50")
        #expect(try notify.cseq() == SIPCSeq(5, .notify))
        #expect(notify.headers.values(.route) == ["<sip:proxy1.example.com;lr>", "<sip:proxy2.example.com;lr>"])
        #expect(notify.headers.first(.event) == "message-summary;id=42")
        #expect(notify.headers.first(.subscriptionState) == "active;expires=600")
        #expect(notify.headers.first(.contentType) == "application/simple-message-summary")
        #expect(notify.bodyText == "Messages-Waiting: yes\r\nMessage-Account: sip:1234@mwid.example.com\r\nVoice-Message: 2/8 (1/0)\r\n")
    }

    /// Phones are many: their NOTIFYs are not watched for ICMP port unreachable.
    @Test func notifiesGoBackTheWayTheSubscribeCame() {
        #expect(SubscriptionNotify.hops(dialog()) == [SIPPeer(host: "192.0.2.50", port: 40001, transport: .udp, watchesUnreachable: false)])
        #expect(SubscriptionNotify.hops(dialog(transport: "tcp")) == [
            SIPPeer(host: "192.0.2.50", port: 40001, transport: .tcp, existingConnectionOnly: true, watchesUnreachable: false),
            SIPPeer(host: "192.0.2.50", port: 5070, transport: .tcp, watchesUnreachable: false),
        ])
        #expect(SubscriptionNotify.hops(dialog(routeSet: ["<sip:proxy1.example.com:5080;transport=tcp;lr>"])) == [
            SIPPeer(host: "proxy1.example.com", port: 5080, transport: .tcp, watchesUnreachable: false),
        ])
        #expect(SubscriptionNotify.hostPort("[2001:db8::1]:5060")! == ("2001:db8::1", 5060))
    }

    @Test func trustedNetworks() throws {
        let v4 = try #require(AddressRange("192.0.2.0/24"))
        #expect(v4.contains("192.0.2.77") && !v4.contains("192.0.3.1") && !v4.contains("2001:db8::1"))
        #expect(v4.contains("::ffff:192.0.2.9"), "an IPv4-mapped address is the IPv4 address")
        let v6 = try #require(AddressRange("2001:db8::/32"))
        #expect(v6.contains("[2001:db8:1::5]") && !v6.contains("2001:db9::1"))
        let host = try #require(AddressRange("10.1.2.3"))
        #expect(host.contains("10.1.2.3") && !host.contains("10.1.2.4"))
        #expect(AddressRange("10.0.0.0/33") == nil && AddressRange("pbx.example.com") == nil && AddressRange("") == nil)
        let odd = try #require(AddressRange("10.0.0.0/9"))
        #expect(odd.contains("10.127.255.255") && !odd.contains("10.128.0.0"))
    }

    @Test func theFloodGuardRefillsAtItsRate() {
        var limiter = RequestRateLimiter(rate: 2, burst: 3)
        let second: Int64 = 1_000_000_000
        var answers: [Bool] = []
        for _ in 0..<4 { answers.append(limiter.allow("192.0.2.9", now: 0)) }
        #expect(answers == [true, true, true, false], "a burst of 3")
        let other = limiter.allow("192.0.2.10", now: 0)
        #expect(other, "another address has its own bucket")
        #expect(limiter.retryAfter("192.0.2.9") == 1)
        let refilled = limiter.allow("192.0.2.9", now: second / 2)
        let again = limiter.allow("192.0.2.9", now: second / 2)
        #expect(refilled && !again, "one token back after 0.5 s at 2/s")
        var bounded = RequestRateLimiter(rate: 1, burst: 1, maximumTracked: 100)
        for i in 0..<1000 { _ = bounded.allow("a\(i)", now: Int64(i) * 10 * second) }
        #expect(bounded.trackedAddresses <= 101, "addresses whose bucket is full again are forgotten")
    }
}
