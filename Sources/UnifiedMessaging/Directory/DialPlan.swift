/// A UM dial plan (Exchange's `UMDialPlan`): how extensions look and how users are named
/// and reached in SIP.
public struct DialPlan: Codable, Sendable, Hashable {
    public var name: String
    /// 1–20.
    public var numberOfDigitsInExtension: Int
    public var uriType: URIType
    public var voipSecurity: VoIPSecurity
    /// The country calling code (`33`, `1`, …) used to format numbers, when known.
    public var countryOrRegionCode: String?
    /// Whether a mailbox whose phones SUBSCRIBE to it still gets unsolicited NOTIFYs through
    /// the gateways (mwid's own setting, default `true`: both). `false` lets the
    /// subscriptions alone carry the lamp while any is live.
    public var unsolicitedNotifyWhenSubscribed: Bool

    public init(name: String, numberOfDigitsInExtension: Int, uriType: URIType = .telExtn,
                voipSecurity: VoIPSecurity = .unsecured, countryOrRegionCode: String? = nil,
                unsolicitedNotifyWhenSubscribed: Bool = true) {
        self.name = name
        self.numberOfDigitsInExtension = numberOfDigitsInExtension
        self.uriType = uriType
        self.voipSecurity = voipSecurity
        self.countryOrRegionCode = countryOrRegionCode
        self.unsolicitedNotifyWhenSubscribed = unsolicitedNotifyWhenSubscribed
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, numberOfDigitsInExtension, uriType, voipSecurity, countryOrRegionCode, unsolicitedNotifyWhenSubscribed
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        numberOfDigitsInExtension = try c.requireInteger(.numberOfDigitsInExtension)
        uriType = try c.decodeIfPresent(URIType.self, forKey: .uriType) ?? .telExtn
        voipSecurity = try c.decodeIfPresent(VoIPSecurity.self, forKey: .voipSecurity) ?? .unsecured
        countryOrRegionCode = try c.decodeIfPresent(String.self, forKey: .countryOrRegionCode)
        unsolicitedNotifyWhenSubscribed = try c.decodeIfPresent(Bool.self, forKey: .unsolicitedNotifyWhenSubscribed) ?? true
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(numberOfDigitsInExtension, forKey: .numberOfDigitsInExtension)
        try c.encode(uriType, forKey: .uriType)
        try c.encode(voipSecurity, forKey: .voipSecurity)
        try c.encode(countryOrRegionCode, forKey: .countryOrRegionCode)
        try c.encode(unsolicitedNotifyWhenSubscribed, forKey: .unsolicitedNotifyWhenSubscribed)
    }
}
