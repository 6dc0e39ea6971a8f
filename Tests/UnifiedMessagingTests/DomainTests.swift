import Foundation
import Testing
import UnifiedMessaging

@Suite struct MessageWaitingStateTests {
    func message(read: Bool, urgent: Bool, protected: Bool = false) -> VoiceMessage {
        VoiceMessage(id: UUID().uuidString, from: "+33100000000", receivedAt: Date(timeIntervalSince1970: 0),
                     durationSeconds: 5, urgent: urgent, protected: protected, read: read)
    }

    @Test func countsEveryVoiceMessageUrgentOnesAlsoInTheirSubset() {
        let messages = [message(read: false, urgent: true), message(read: false, urgent: false),
                        message(read: false, urgent: false, protected: true), message(read: true, urgent: true),
                        message(read: true, urgent: false)]
        let state = MessageWaitingState(messages: messages)
        #expect(state == MessageWaitingState(new: 3, old: 2, urgentNew: 1, urgentOld: 1))
        #expect(state.messagesWaiting)
        #expect(state.description == "yes 3/2 (1/1)")
        #expect(!MessageWaitingState(messages: [message(read: true, urgent: true)]).messagesWaiting)
        #expect(MessageWaitingState(messages: []) == MessageWaitingState())
    }

    @Test func changesApplyOnlyTheFieldsGiven() {
        let m = message(read: false, urgent: true)
        #expect(VoiceMessageChange(read: true).applied(to: m).urgent)
        #expect(VoiceMessageChange(read: true).applied(to: m).read)
        #expect(!VoiceMessageChange(urgent: false).applied(to: m).urgent)
        #expect(!VoiceMessageChange(urgent: false).applied(to: m).read)
    }
}

@Suite struct PolicyDecisionTests {
    let policy = MailboxPolicy(name: "Default", dialPlan: "Paris")

    @Test func ordersUsableGatewaysByPriorityThenName() {
        let gateways = [
            IPGateway(name: "b", address: "192.0.2.2", dialPlans: ["Paris"], priority: 1),
            IPGateway(name: "a", address: "192.0.2.1", dialPlans: ["Paris"], priority: 1),
            IPGateway(name: "z", address: "192.0.2.9", dialPlans: ["Paris"], priority: 0),
            IPGateway(name: "off", address: "192.0.2.3", dialPlans: ["Paris"], status: .disabled, priority: -5),
            IPGateway(name: "nomwi", address: "192.0.2.4", dialPlans: ["Paris"], messageWaitingIndicatorAllowed: false, priority: -5),
            IPGateway(name: "lyon", address: "192.0.2.5", dialPlans: ["Lyon"], priority: -9),
        ]
        let decision = MWIPolicyDecision.decide(policy: policy, dialPlan: "Paris", gateways: gateways)
        #expect(decision.enabled)
        #expect(decision.gateways.map(\.name) == ["z", "a", "b"])
    }

    @Test func policySwitchOrNoUsableGatewayDisables() {
        var off = policy
        off.allowMessageWaitingIndicator = false
        let gateway = IPGateway(name: "pbx", address: "192.0.2.1", dialPlans: ["Paris"])
        let byPolicy = MWIPolicyDecision.decide(policy: off, dialPlan: "Paris", gateways: [gateway])
        #expect(!byPolicy.enabled && byPolicy.gateways.isEmpty && byPolicy.reason.contains("policy Default"))
        let none = MWIPolicyDecision.decide(policy: policy, dialPlan: "Paris", gateways: [])
        #expect(!none.enabled && none.reason.contains("no IP gateway serves"))
        var disabled = gateway
        disabled.status = .disabled
        let allOff = MWIPolicyDecision.decide(policy: policy, dialPlan: "Paris", gateways: [disabled])
        #expect(!allOff.enabled && allOff.reason.contains("Enabled with messageWaitingIndicatorAllowed"))
    }
}

@Suite struct DirectoryCodingTests {
    @Test func defaultsApplyAndEnumsAcceptAnyCase() throws {
        let plan = try JSONDecoder().decode(DialPlan.self, from: Data(#"{"name":"P","numberOfDigitsInExtension":4,"uriType":"sipname"}"#.utf8))
        #expect(plan.uriType == .sipName && plan.voipSecurity == .unsecured && plan.countryOrRegionCode == nil)
        let gateway = try JSONDecoder().decode(IPGateway.self, from: Data(#"{"name":"g","address":"h","transport":"TLS"}"#.utf8))
        #expect(gateway.port == 5061 && gateway.status == .enabled && gateway.messageWaitingIndicatorAllowed && gateway.dialPlans.isEmpty)
    }

    @Test func unknownFieldsAndValuesAreNamed() {
        do {
            _ = try JSONDecoder().decode(DialPlan.self, from: Data(#"{"name":"P","numberOfDigitsInExtension":4,"digits":4}"#.utf8))
            Issue.record("accepted an unknown field")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.codingPath.last?.stringValue == "digits")
        } catch { Issue.record("\(error)") }
        do {
            _ = try JSONDecoder().decode(IPGateway.self, from: Data(#"{"name":"g","address":"h","status":"On"}"#.utf8))
            Issue.record("accepted an unknown status")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.codingPath.last?.stringValue == "status")
            #expect(context.debugDescription.contains("Enabled, Disabled"))
        } catch { Issue.record("\(error)") }
    }

    @Test func secretsAreWriteOnly() throws {
        let gateway = IPGateway(name: "g", address: "h", username: "u", password: "s3cret")
        let shown = String(decoding: try JSONEncoder().encode(gateway), as: UTF8.self)
        #expect(!shown.contains("s3cret") && shown.contains(#""hasPassword":true"#))
        let stored = JSONEncoder()
        stored.userInfo[.includeSecrets] = true
        #expect(String(decoding: try stored.encode(gateway), as: UTF8.self).contains("s3cret"))
        let mailbox = UMMailbox(identity: "a", extension: "1", dialPlan: "P", policy: "D", sipPassword: "pw-xyz")
        #expect(!String(decoding: try JSONEncoder().encode(mailbox), as: UTF8.self).contains("pw-xyz"))
    }
}
