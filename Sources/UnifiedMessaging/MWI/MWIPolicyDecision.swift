/// Whether a mailbox's state changes produce notifications, and through which gateways
/// (SPEC §2.2). A pure function of the mailbox's policy and its dial plan's gateways.
public struct MWIPolicyDecision: Sendable, Hashable {
    /// Notifications are sent.
    public var enabled: Bool
    /// Why, in words an administrator can act on.
    public var reason: String
    /// The gateways to try, in order (priority, then name). Empty when not enabled.
    public var gateways: [IPGateway]

    /// Decides for a mailbox under `policy` whose dial plan is `dialPlan`, given every
    /// gateway in the directory (those not serving the dial plan are ignored).
    public static func decide(policy: MailboxPolicy, dialPlan: String, gateways: [IPGateway]) -> MWIPolicyDecision {
        guard policy.allowMessageWaitingIndicator else {
            return MWIPolicyDecision(enabled: false,
                                     reason: "mailbox policy \(policy.name) does not allow the message waiting indicator",
                                     gateways: [])
        }
        let serving = gateways.filter { $0.dialPlans.contains(dialPlan) }
        let usable = serving.filter(\.deliversMWI).sorted { ($0.priority, $0.name) < ($1.priority, $1.name) }
        guard !usable.isEmpty else {
            let reason = serving.isEmpty
                ? "no IP gateway serves dial plan \(dialPlan)"
                : "no IP gateway of dial plan \(dialPlan) is Enabled with messageWaitingIndicatorAllowed"
            return MWIPolicyDecision(enabled: false, reason: reason, gateways: [])
        }
        let names = usable.map(\.name).joined(separator: ", ")
        return MWIPolicyDecision(enabled: true, reason: "delivered through \(names)", gateways: usable)
    }
}
