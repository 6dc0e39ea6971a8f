/// The three SIP transports mwid speaks.
public enum SIPTransportKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case udp, tcp, tls

    /// TCP and TLS deliver reliably: no retransmission timers.
    public var isReliable: Bool { self != .udp }

    /// The name used in Via (`SIP/2.0/UDP`).
    public var viaName: String { rawValue.uppercased() }

    /// 5060, or 5061 for TLS.
    public var defaultPort: Int { self == .tls ? 5061 : 5060 }

    public var description: String { rawValue }

    /// From a Via transport or a `transport=` URI parameter, case-insensitively.
    public init?(name: String) {
        switch name.lowercased() {
        case "udp": self = .udp
        case "tcp": self = .tcp
        case "tls": self = .tls
        default: return nil
        }
    }
}

/// Where a request goes: a host (IP literal or name), a port, and a transport.
public struct SIPPeer: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal (without brackets) or a DNS name.
    public var host: String
    /// `nil` means the transport's default port.
    public var port: Int?
    public var transport: SIPTransportKind
    /// TCP and TLS: use the connection already open to this address (one the peer opened
    /// to us, say) and fail at once with `connectionClosed` when there is none, instead
    /// of connecting — for a peer's ephemeral port, where a new connection cannot succeed.
    public var existingConnectionOnly: Bool
    /// UDP: watch the peer for ICMP port unreachable, so that its transactions fail at
    /// once when its port is closed instead of at Timer F (up to the endpoint's
    /// `unreachableWatchLimit` peers). For gateways; leave it off for the many phones of
    /// a fan-out.
    public var watchesUnreachable: Bool

    public init(host: String, port: Int? = nil, transport: SIPTransportKind, existingConnectionOnly: Bool = false,
                watchesUnreachable: Bool = true) {
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
        self.transport = transport
        self.existingConnectionOnly = existingConnectionOnly
        self.watchesUnreachable = watchesUnreachable
    }

    public var effectivePort: Int { port ?? transport.defaultPort }

    public var description: String {
        let h = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        return "\(transport)://\(h):\(effectivePort)"
    }
}

/// Why a request got no final response.
public enum SIPTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No final response within the transaction timeout (Timer F).
    case timeout
    /// The peer refused the connection or the datagram (ICMP port unreachable).
    case connectionRefused(String)
    /// The peer cannot be reached (no route, host down, connect timeout).
    case unreachable(String)
    /// The TLS handshake or certificate verification failed.
    case tlsFailure(String)
    /// The host name did not resolve.
    case resolutionFailed(String)
    /// The connection closed before a final response arrived.
    case connectionClosed(String)
    /// This endpoint has no listener or configuration for that transport.
    case transportUnavailable(SIPTransportKind)
    /// The request cannot be sent as given.
    case invalidRequest(String)
    case shuttingDown

    public var description: String {
        switch self {
        case .timeout: "transaction timed out"
        case .connectionRefused(let s): "connection refused: \(s)"
        case .unreachable(let s): "unreachable: \(s)"
        case .tlsFailure(let s): "TLS failure: \(s)"
        case .resolutionFailed(let s): "cannot resolve \(s)"
        case .connectionClosed(let s): "connection closed: \(s)"
        case .transportUnavailable(let t): "no \(t) transport configured"
        case .invalidRequest(let s): "invalid request: \(s)"
        case .shuttingDown: "endpoint shutting down"
        }
    }
}

extension SIPTransportError {
    /// Whether a request to a peer with several addresses (RFC 3263) goes on to the next.
    var movesToNextAddress: Bool {
        switch self {
        case .timeout, .connectionRefused, .unreachable, .tlsFailure, .connectionClosed: true
        case .resolutionFailed, .transportUnavailable, .invalidRequest, .shuttingDown: false
        }
    }
}
