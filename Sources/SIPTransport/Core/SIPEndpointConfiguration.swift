public import NIOCore
public import SIP

/// What an endpoint listens on and how it behaves. Every interval is configurable so
/// that tests can shorten them.
public struct SIPEndpointConfiguration: Sendable {
    /// `HOST:PORT` listeners per transport (IPv4 or `[IPv6]`); port 0 picks a free one.
    public var udp: [String]
    public var tcp: [String]
    public var tls: [String]
    /// Host written in Via and Contact; defaults to the first listener's address.
    public var advertisedHost: String?
    public var tlsConfiguration: SIPTLSConfiguration?
    public var timers: SIPTimers
    public var limits: SIPParser.Limits
    /// An outbound or inbound connection with no traffic for this long is closed.
    public var idleTimeout: TimeAmount
    /// A stream peer must complete a message this soon after starting it (slow-loris guard).
    public var messageTimeout: TimeAmount
    public var connectTimeout: TimeAmount
    /// Inbound TCP/TLS connections accepted at once; more are closed on arrival.
    public var maxInboundConnections: Int
    /// How long a resolved host name is reused (getaddrinfo hides the record's TTL).
    public var resolutionCacheTime: TimeAmount
    /// Timers due within this of each other fire in one wake-up (timer slack).
    public var timerResolution: TimeAmount

    public init(
        udp: [String] = ["127.0.0.1:5060"], tcp: [String] = ["127.0.0.1:5060"], tls: [String] = [],
        advertisedHost: String? = nil, tlsConfiguration: SIPTLSConfiguration? = nil, timers: SIPTimers = .rfc3261,
        limits: SIPParser.Limits = .default, idleTimeout: TimeAmount = .seconds(120), messageTimeout: TimeAmount = .seconds(10),
        connectTimeout: TimeAmount = .seconds(5), maxInboundConnections: Int = 4_096, resolutionCacheTime: TimeAmount = .seconds(60),
        timerResolution: TimeAmount = .milliseconds(4)
    ) {
        self.timerResolution = timerResolution
        self.udp = udp
        self.tcp = tcp
        self.tls = tls
        self.advertisedHost = advertisedHost
        self.tlsConfiguration = tlsConfiguration
        self.timers = timers
        self.limits = limits
        self.idleTimeout = idleTimeout
        self.messageTimeout = messageTimeout
        self.connectTimeout = connectTimeout
        self.maxInboundConnections = maxInboundConnections
        self.resolutionCacheTime = resolutionCacheTime
    }

    /// Splits `HOST:PORT` / `[V6]:PORT` into a socket address.
    public static func socketAddress(_ hostPort: String) throws -> SocketAddress {
        guard let colon = hostPort.lastIndex(of: ":") else {
            throw SIPConfigurationError("listener '\(hostPort)' is not HOST:PORT")
        }
        var host = String(hostPort[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(hostPort[hostPort.index(after: colon)...]), (0...65535).contains(port) else {
            throw SIPConfigurationError("listener '\(hostPort)' has no valid port (0-65535)")
        }
        do {
            return try SocketAddress(ipAddress: host, port: port)
        } catch {
            throw SIPConfigurationError("listener '\(hostPort)' is not an IP address and port")
        }
    }
}

/// A configuration that cannot work, with the reason.
public struct SIPConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
