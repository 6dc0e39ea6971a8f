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
    /// The longest a resolved host name is reused: its DNS records' TTL when shorter,
    /// this whole for a name found outside DNS (/etc/hosts).
    public var resolutionCacheTime: TimeAmount
    /// `IPv4:PORT` of the DNS server peers' names are asked of, instead of those of
    /// /etc/resolv.conf.
    public var dnsServer: String?
    /// How long each DNS query waits for its answer (twice per server).
    public var dnsQueryTimeout: TimeAmount
    /// Timers due within this of each other fire in one wake-up (timer slack).
    public var timerResolution: TimeAmount
    /// UDP peers watched at once for ICMP port unreachable (one connected socket each on
    /// the listener's address; every datagram the listener's port receives is matched
    /// against them, so keep it small). 0 turns the watch off.
    public var unreachableWatchLimit: Int

    public init(
        udp: [String] = ["127.0.0.1:5060"], tcp: [String] = ["127.0.0.1:5060"], tls: [String] = [],
        advertisedHost: String? = nil, tlsConfiguration: SIPTLSConfiguration? = nil, timers: SIPTimers = .rfc3261,
        limits: SIPParser.Limits = .default, idleTimeout: TimeAmount = .seconds(120), messageTimeout: TimeAmount = .seconds(10),
        connectTimeout: TimeAmount = .seconds(5), maxInboundConnections: Int = 4_096, resolutionCacheTime: TimeAmount = .seconds(60),
        timerResolution: TimeAmount = .milliseconds(4), unreachableWatchLimit: Int = 64, dnsServer: String? = nil,
        dnsQueryTimeout: TimeAmount = .seconds(2)
    ) {
        self.dnsServer = dnsServer
        self.dnsQueryTimeout = dnsQueryTimeout
        self.timerResolution = timerResolution
        self.unreachableWatchLimit = unreachableWatchLimit
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

extension SIPEndpointConfiguration {
    /// `dnsServer` split into an IPv4 address and a port.
    func dnsServerAddress() throws -> (host: String, port: Int)? {
        guard let text = dnsServer else { return nil }
        guard let address = try? Self.socketAddress(text), address.protocol == .inet, let host = address.ipAddress,
              let port = address.port, port > 0 else {
            throw SIPConfigurationError("DNS server '\(text)' is not IPv4:PORT")
        }
        return (host, port)
    }
}

/// A configuration that cannot work, with the reason.
public struct SIPConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
