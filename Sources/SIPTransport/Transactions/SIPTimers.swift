/// RFC 3261 timer values (§17.1.1.1, table 4). Every interval is configurable so that
/// tests and benchmarks can shorten them; defaults are the RFC's.
public struct SIPTimers: Sendable, Equatable {
    /// Round-trip estimate; retransmissions start at T1.
    public var t1: Duration
    /// Longest retransmission interval for non-INVITE requests and INVITE responses.
    public var t2: Duration
    /// Longest time a message stays in the network (Timer K, Timer I).
    public var t4: Duration
    /// Transaction timeout (Timer F, H, J); `nil` means 64 × T1.
    public var timeout: Duration?

    public init(t1: Duration = .milliseconds(500), t2: Duration = .seconds(4), t4: Duration = .seconds(5), timeout: Duration? = nil) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.timeout = timeout
    }

    public static let rfc3261 = SIPTimers()

    var t1ns: Int64 { Self.nanoseconds(t1) }
    var t2ns: Int64 { Self.nanoseconds(t2) }
    var t4ns: Int64 { Self.nanoseconds(t4) }
    var timeoutns: Int64 { timeout.map(Self.nanoseconds) ?? 64 * t1ns }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, attos) = d.components
        return s * 1_000_000_000 + attos / 1_000_000_000
    }
}
