/// An IP gateway or SIP peer (Exchange's `UMIPGateway`): a PBX, a VoIP gateway or a SIP
/// front end that receives NOTIFYs for the dial plans it serves.
public struct IPGateway: Codable, Sendable, Hashable {
    public var name: String
    /// An IPv4 or IPv6 literal, or a fully qualified domain name.
    public var address: String
    /// 1–65535; 5060 by default, 5061 when the transport is TLS.
    public var port: Int
    public var transport: GatewayTransport
    /// The dial plans served, in order.
    public var dialPlans: [String]
    public var status: GatewayStatus
    public var messageWaitingIndicatorAllowed: Bool
    /// Lower is tried first; ties by name.
    public var priority: Int
    /// Digest credentials for a peer that challenges.
    public var username: String?
    /// Write-only: never shown by the API.
    public var password: String?

    public init(name: String, address: String, port: Int? = nil, transport: GatewayTransport = .auto,
                dialPlans: [String] = [], status: GatewayStatus = .enabled,
                messageWaitingIndicatorAllowed: Bool = true, priority: Int = 0,
                username: String? = nil, password: String? = nil) {
        self.name = name
        self.address = address
        self.transport = transport
        self.port = port ?? (transport == .tls ? 5061 : 5060)
        self.dialPlans = dialPlans
        self.status = status
        self.messageWaitingIndicatorAllowed = messageWaitingIndicatorAllowed
        self.priority = priority
        self.username = username
        self.password = password
    }

    /// Whether this gateway takes part in MWI delivery (SPEC §2.2).
    public var deliversMWI: Bool { status == .enabled && messageWaitingIndicatorAllowed }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, address, port, transport, dialPlans, status, messageWaitingIndicatorAllowed, priority
        case username, password, hasPassword
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.filter { $0 != .hasPassword }.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        address = try c.decode(String.self, forKey: .address)
        transport = try c.decodeIfPresent(GatewayTransport.self, forKey: .transport) ?? .auto
        port = try c.decodeInteger(.port) ?? (transport == .tls ? 5061 : 5060)
        dialPlans = try c.decodeIfPresent([String].self, forKey: .dialPlans) ?? []
        status = try c.decodeIfPresent(GatewayStatus.self, forKey: .status) ?? .enabled
        messageWaitingIndicatorAllowed = try c.decodeIfPresent(Bool.self, forKey: .messageWaitingIndicatorAllowed) ?? true
        priority = try c.decodeInteger(.priority) ?? 0
        username = try c.decodeIfPresent(String.self, forKey: .username)
        password = try c.decodeIfPresent(String.self, forKey: .password)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(address, forKey: .address)
        try c.encode(port, forKey: .port)
        try c.encode(transport, forKey: .transport)
        try c.encode(dialPlans, forKey: .dialPlans)
        try c.encode(status, forKey: .status)
        try c.encode(messageWaitingIndicatorAllowed, forKey: .messageWaitingIndicatorAllowed)
        try c.encode(priority, forKey: .priority)
        try c.encode(username, forKey: .username)
        if encoder.includesSecrets {
            try c.encodeIfPresent(password, forKey: .password)
        } else {
            try c.encode(password != nil, forKey: .hasPassword)
        }
    }
}
