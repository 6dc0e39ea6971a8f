/// A closed set of values named as in Exchange. Decoding accepts any letter case (as
/// Exchange's cmdlets do) and answers an unknown value with the list of allowed ones.
public protocol DirectoryEnum: RawRepresentable<String>, CaseIterable, Codable, Sendable, Hashable,
    CustomStringConvertible
{
    /// What the value is called in messages ("uriType", "transport", …).
    static var fieldName: String { get }
}

extension DirectoryEnum {
    public var description: String { rawValue }

    /// Parses `text` exactly or case-insensitively.
    public init?(lenient text: String) {
        if let exact = Self(rawValue: text) {
            self = exact
            return
        }
        let lower = text.lowercased()
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == lower }) else { return nil }
        self = match
    }

    public static var allowedValues: String { allCases.map(\.rawValue).joined(separator: ", ") }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(lenient: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be one of \(Self.allowedValues) (got \"\(text)\")")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// How a dial plan names its users in SIP (Exchange's `URIType`).
public enum URIType: String, DirectoryEnum {
    /// `sip:EXT@peer`.
    case telExtn = "TelExtn"
    /// The user's own SIP URI.
    case sipName = "SipName"
    /// `sip:+E164@peer;user=phone`.
    case e164 = "E164"
    public static let fieldName = "uriType"
}

/// A dial plan's VoIP security (Exchange's `VoIPSecurity`).
public enum VoIPSecurity: String, DirectoryEnum {
    case unsecured = "Unsecured"
    case sipSecured = "SIPSecured"
    case secured = "Secured"
    public static let fieldName = "voipSecurity"

    /// Signalling must go over TLS.
    public var requiresTLS: Bool { self != .unsecured }
}

/// The transport a gateway is reached over; `auto` follows the dial plan's security.
public enum GatewayTransport: String, DirectoryEnum {
    case auto, udp, tcp, tls
    public static let fieldName = "transport"
}

/// Whether a gateway is in service.
public enum GatewayStatus: String, DirectoryEnum {
    case enabled = "Enabled"
    case disabled = "Disabled"
    public static let fieldName = "status"
}

/// Which text messages a user receives (Exchange's `UMSMSNotificationOption`).
public enum SMSNotificationOption: String, DirectoryEnum {
    case none = "None"
    case voiceMail = "VoiceMail"
    case voiceMailAndMissedCalls = "VoiceMailAndMissedCalls"
    public static let fieldName = "umSMSNotificationOption"
}

/// Where a mailbox's counts come from: its own voice messages (deposits), or another
/// voicemail system that publishes them (SIP PUBLISH, or `PUT mailboxes/{id}/mwi`).
public enum MWISource: String, DirectoryEnum {
    case messages = "Messages"
    case external = "External"
    public static let fieldName = "mwiSource"
}
