/// A UM mailbox policy (Exchange's `UMMailboxPolicy`): the switches shared by the
/// mailboxes of one dial plan.
public struct MailboxPolicy: Codable, Sendable, Hashable {
    public var name: String
    public var dialPlan: String
    public var allowMessageWaitingIndicator: Bool
    public var allowSMSNotification: Bool

    public init(name: String, dialPlan: String, allowMessageWaitingIndicator: Bool = true,
                allowSMSNotification: Bool = true) {
        self.name = name
        self.dialPlan = dialPlan
        self.allowMessageWaitingIndicator = allowMessageWaitingIndicator
        self.allowSMSNotification = allowSMSNotification
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, dialPlan, allowMessageWaitingIndicator, allowSMSNotification
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        dialPlan = try c.decode(String.self, forKey: .dialPlan)
        allowMessageWaitingIndicator = try c.decodeIfPresent(Bool.self, forKey: .allowMessageWaitingIndicator) ?? true
        allowSMSNotification = try c.decodeIfPresent(Bool.self, forKey: .allowSMSNotification) ?? true
    }
}
