import Foundation
import Testing
import UnifiedMessaging

@Suite struct ValidationTests {
    let paris = DialPlan(name: "Paris", numberOfDigitsInExtension: 4)
    let sipPlan = DialPlan(name: "Corp", numberOfDigitsInExtension: 5, uriType: .sipName)
    let e164Plan = DialPlan(name: "Intl", numberOfDigitsInExtension: 4, uriType: .e164, countryOrRegionCode: "33")
    let secured = DialPlan(name: "Secure", numberOfDigitsInExtension: 4, voipSecurity: .secured)

    func refusal(_ body: () throws -> Void) -> DirectoryError? {
        do {
            try body()
            return nil
        } catch let error as DirectoryError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func dialPlanDigitsAndCountryCode() {
        #expect(refusal { try DirectoryValidation.check(paris) } == nil)
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: "X", numberOfDigitsInExtension: 0)) }?.field == "numberOfDigitsInExtension")
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: "X", numberOfDigitsInExtension: 21)) }?.field == "numberOfDigitsInExtension")
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: "X", numberOfDigitsInExtension: 20)) } == nil)
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: "X", numberOfDigitsInExtension: 4, countryOrRegionCode: "+33")) }?.field == "countryOrRegionCode")
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: "", numberOfDigitsInExtension: 4)) }?.field == "name")
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: "a/b", numberOfDigitsInExtension: 4)) }?.field == "name")
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: " Paris", numberOfDigitsInExtension: 4)) }?.field == "name")
        #expect(refusal { try DirectoryValidation.check(DialPlan(name: String(repeating: "x", count: 65), numberOfDigitsInExtension: 4)) }?.field == "name")
    }

    @Test func mailboxExtensionLengthUniquenessAndReferences() {
        let policy = MailboxPolicy(name: "Default", dialPlan: "Paris")
        let alice = UMMailbox(identity: "alice@example.com", extension: "1234", dialPlan: "Paris", policy: "Default")
        #expect(refusal { try DirectoryValidation.check(alice, dialPlan: paris, policy: policy, extensionOwner: nil) } == nil)
        // Its own extension is not a duplicate.
        #expect(refusal { try DirectoryValidation.check(alice, dialPlan: paris, policy: policy, extensionOwner: "alice@example.com") } == nil)
        let taken = refusal { try DirectoryValidation.check(alice, dialPlan: paris, policy: policy, extensionOwner: "bob@example.com") }
        #expect(taken?.code == .conflict && taken?.field == "extension" && taken?.message.contains("bob@example.com") == true)
        var short = alice
        short.extension = "123"
        #expect(refusal { try DirectoryValidation.check(short, dialPlan: paris, policy: policy, extensionOwner: nil) }?.field == "extension")
        var letters = alice
        letters.extension = "12a4"
        #expect(refusal { try DirectoryValidation.check(letters, dialPlan: paris, policy: policy, extensionOwner: nil) }?.field == "extension")
        let noPlan = refusal { try DirectoryValidation.check(alice, dialPlan: nil, policy: policy, extensionOwner: nil) }
        #expect(noPlan?.code == .notFound && noPlan?.field == "dialPlan")
        let noPolicy = refusal { try DirectoryValidation.check(alice, dialPlan: paris, policy: nil, extensionOwner: nil) }
        #expect(noPolicy?.code == .notFound && noPolicy?.field == "policy")
        let otherPlanPolicy = MailboxPolicy(name: "Lyon", dialPlan: "Lyon")
        #expect(refusal { try DirectoryValidation.check(alice, dialPlan: paris, policy: otherPlanPolicy, extensionOwner: nil) }?.field == "policy")
        var spaced = alice
        spaced.identity = "alice smith"
        #expect(refusal { try DirectoryValidation.check(spaced, dialPlan: paris, policy: policy, extensionOwner: nil) }?.field == "identity")
    }

    @Test func sipResourceIdentifierPerURIType() {
        let policy = MailboxPolicy(name: "P", dialPlan: "Corp")
        var bob = UMMailbox(identity: "bob", extension: "12345", dialPlan: "Corp", policy: "P")
        let missing = refusal { try DirectoryValidation.check(bob, dialPlan: sipPlan, policy: policy, extensionOwner: nil) }
        #expect(missing?.field == "sipResourceIdentifier" && missing?.message.contains("required") == true)
        bob.sipResourceIdentifier = "bob@example.com"
        #expect(refusal { try DirectoryValidation.check(bob, dialPlan: sipPlan, policy: policy, extensionOwner: nil) }?.field == "sipResourceIdentifier")
        bob.sipResourceIdentifier = "sip:example.com"
        #expect(refusal { try DirectoryValidation.check(bob, dialPlan: sipPlan, policy: policy, extensionOwner: nil) }?.field == "sipResourceIdentifier")
        bob.sipResourceIdentifier = "sip:bob@example.com"
        #expect(refusal { try DirectoryValidation.check(bob, dialPlan: sipPlan, policy: policy, extensionOwner: nil) } == nil)

        for bad in ["33142685300", "+0142685300", "+3314268530012345", "+33 1 42", "+"] {
            #expect(throws: DirectoryError.self, "\(bad)") { try DirectoryValidation.checkResourceIdentifier(bad, uriType: .e164) }
        }
        #expect(throws: DirectoryError.self) { try DirectoryValidation.checkResourceIdentifier(nil, uriType: .e164) }
        #expect(throws: Never.self) { try DirectoryValidation.checkResourceIdentifier("+33142685300", uriType: .e164) }
        #expect(throws: Never.self) { try DirectoryValidation.checkResourceIdentifier(nil, uriType: .telExtn) }
    }

    @Test func gatewayAddressPortDialPlansAndSecurity() {
        let plans = ["Paris": paris, "Secure": secured]
        func check(_ g: IPGateway) -> DirectoryError? { refusal { try DirectoryValidation.check(g, dialPlans: plans) } }
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", dialPlans: ["Paris"])) == nil)
        for address in ["2001:db8::1", "[2001:db8::1]", "::1", "::ffff:192.0.2.1", "pbx.example.com", "pbx", "pbx.example.com."] {
            #expect(check(IPGateway(name: "pbx", address: address)) == nil, "\(address)")
        }
        for address in ["", "256.1.1.1", "1.2.3", "01.2.3.4", "pbx_1.example.com", "-pbx.example.com", "2001:db8:::1",
                        "1:2:3:4:5:6:7:8:9", "pbx example", "http://pbx"] {
            #expect(check(IPGateway(name: "pbx", address: address))?.field == "address", "\(address)")
        }
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", port: 0))?.field == "port")
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", port: 65536))?.field == "port")
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", port: 65535)) == nil)
        let unknown = check(IPGateway(name: "pbx", address: "192.0.2.10", dialPlans: ["Nowhere"]))
        #expect(unknown?.code == .notFound && unknown?.field == "dialPlans")
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", dialPlans: ["Paris", "Paris"]))?.field == "dialPlans")
        for forced in [GatewayTransport.udp, .tcp] {
            let error = check(IPGateway(name: "pbx", address: "192.0.2.10", transport: forced, dialPlans: ["Secure"]))
            #expect(error?.field == "transport" && error?.message.contains("Secured") == true)
        }
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", transport: .tls, dialPlans: ["Secure"])) == nil)
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", transport: .auto, dialPlans: ["Secure"])) == nil)
        #expect(check(IPGateway(name: "pbx", address: "192.0.2.10", password: "x"))?.field == "username")
        #expect(IPGateway(name: "g", address: "h", transport: .tls).port == 5061)
    }

    @Test func dialPlanChangeMayNotBreakItsMailboxesOrGateways() {
        let alice = UMMailbox(identity: "alice", extension: "1234", dialPlan: "Paris", policy: "P")
        var longer = paris
        longer.numberOfDigitsInExtension = 5
        #expect(refusal { try DirectoryValidation.checkChange(longer, mailboxes: [alice], gateways: []) }?.field == "numberOfDigitsInExtension")
        var named = paris
        named.uriType = .sipName
        #expect(refusal { try DirectoryValidation.checkChange(named, mailboxes: [alice], gateways: []) }?.field == "uriType")
        var tls = paris
        tls.voipSecurity = .sipSecured
        let udp = IPGateway(name: "pbx", address: "192.0.2.1", transport: .udp, dialPlans: ["Paris"])
        #expect(refusal { try DirectoryValidation.checkChange(tls, mailboxes: [alice], gateways: [udp]) }?.field == "voipSecurity")
        #expect(refusal { try DirectoryValidation.checkChange(tls, mailboxes: [alice], gateways: []) } == nil)
    }

    @Test func depositLimits() {
        // Nothing but blanks is no caller: spaces, tabs, Unicode's spaces (no-break, em).
        for blank in ["", " ", "\t \t", "\u{00A0}", " \u{2003} "] {
            #expect(refusal { try DirectoryValidation.check(VoiceMessageDeposit(from: blank, durationSeconds: 3)) }?.field == "from")
        }
        for caller in [" +331 ", "\u{00A0}Zoë", "\n"] {
            #expect(refusal { try DirectoryValidation.check(VoiceMessageDeposit(from: caller, durationSeconds: 3)) } == nil)
        }
        #expect(refusal { try DirectoryValidation.check(VoiceMessageDeposit(from: "+331", durationSeconds: -1)) }?.field == "durationSeconds")
        #expect(refusal { try DirectoryValidation.check(VoiceMessageDeposit(from: "+331", durationSeconds: 86_401)) }?.field == "durationSeconds")
        #expect(refusal { try DirectoryValidation.check(VoiceMessageDeposit(from: "+331", durationSeconds: 3)) } == nil)
    }
}
