/// A UM-enabled mailbox (Exchange's `UMMailbox`).
public struct UMMailbox: Codable, Sendable, Hashable {
    /// The user's identity, e.g. `alice@example.com`; the mailbox's key.
    public var identity: String
    /// The primary extension in the primary dial plan: digits, as many as the dial plan says.
    public var `extension`: String
    public var dialPlan: String
    public var policy: String
    /// The user's SIP URI (`SipName` dial plans) or E.164 number (`E164` dial plans).
    public var sipResourceIdentifier: String?
    public var umSMSNotificationOption: SMSNotificationOption
    /// Messages (the default): the counts are those of its voice messages; External: they
    /// are published by another voicemail system, and deposits are refused.
    public var mwiSource: MWISource
    /// Write-only: the digest secret the user's phones SUBSCRIBE with.
    public var sipPassword: String?

    public init(identity: String, extension: String, dialPlan: String, policy: String,
                sipResourceIdentifier: String? = nil, umSMSNotificationOption: SMSNotificationOption = .none,
                sipPassword: String? = nil, mwiSource: MWISource = .messages) {
        self.identity = identity
        self.extension = `extension`
        self.dialPlan = dialPlan
        self.policy = policy
        self.sipResourceIdentifier = sipResourceIdentifier
        self.umSMSNotificationOption = umSMSNotificationOption
        self.sipPassword = sipPassword
        self.mwiSource = mwiSource
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case identity, `extension`, dialPlan, policy, sipResourceIdentifier, umSMSNotificationOption, mwiSource
        case sipPassword, hasSIPPassword
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.filter { $0 != .hasSIPPassword }.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        identity = try c.decode(String.self, forKey: .identity)
        `extension` = try c.decode(String.self, forKey: .extension)
        dialPlan = try c.decode(String.self, forKey: .dialPlan)
        policy = try c.decode(String.self, forKey: .policy)
        sipResourceIdentifier = try c.decodeIfPresent(String.self, forKey: .sipResourceIdentifier)
        umSMSNotificationOption = try c.decodeIfPresent(SMSNotificationOption.self, forKey: .umSMSNotificationOption) ?? .none
        sipPassword = try c.decodeIfPresent(String.self, forKey: .sipPassword)
        mwiSource = try c.decodeIfPresent(MWISource.self, forKey: .mwiSource) ?? .messages
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(identity, forKey: .identity)
        try c.encode(`extension`, forKey: .extension)
        try c.encode(dialPlan, forKey: .dialPlan)
        try c.encode(policy, forKey: .policy)
        try c.encode(sipResourceIdentifier, forKey: .sipResourceIdentifier)
        try c.encode(umSMSNotificationOption, forKey: .umSMSNotificationOption)
        try c.encode(mwiSource, forKey: .mwiSource)
        if encoder.includesSecrets {
            try c.encodeIfPresent(sipPassword, forKey: .sipPassword)
        } else {
            try c.encode(sipPassword != nil, forKey: .hasSIPPassword)
        }
    }
}
