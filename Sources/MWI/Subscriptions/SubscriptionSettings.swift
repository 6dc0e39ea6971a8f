public import SIP

/// How the message-summary notifier treats subscribers (SPEC §2.7). Every interval and
/// limit is configurable so that tests shorten them and operators size them.
public struct SubscriptionSettings: Sendable {
    /// Shorter requested expiries are refused with `423 Interval Too Brief`.
    public var minimumExpires: Int
    /// Longer requested expiries are granted this long.
    public var maximumExpires: Int
    /// Granted when a SUBSCRIBE has no `Expires` (RFC 3842 §4: one hour).
    public var defaultExpires: Int
    /// Live subscriptions per mailbox, and in all; beyond them `503` with `Retry-After`.
    public var maximumPerMailbox: Int
    public var maximumTotal: Int
    /// Peers allowed to subscribe to any mailbox without digest (a PBX on behalf of its
    /// phones). None by default.
    public var trustedPeers: [AddressRange]
    /// The digest realm of mwid's challenges.
    public var realm: String
    /// Seconds a digest nonce is good for; older ones get a new challenge with `stale=true`.
    public var nonceLifetime: Int
    /// The digest algorithms a 401 offers, one challenge each, in this order. MD5 alone by
    /// default: some phones (baresip 1.0 among them) give up on a 401 that also offers
    /// SHA-256. Credentials are checked whatever the algorithm offered.
    public var digestAlgorithms: [DigestAlgorithm]
    /// SUBSCRIBE and REGISTER requests a second one address may send, on average, and in
    /// a burst; beyond them `503` with `Retry-After`. Trusted peers are not limited.
    public var requestRate: Double
    public var requestBurst: Double
    /// A NOTIFY refused other than by 481 is retried after this, doubling up to a minute,
    /// for as long as the subscription lives.
    public var retryBackoff: Duration
    /// CSeq numbers reserved in storage at a time, so that a restart never reuses one.
    public var cseqBlock: UInt32
    /// NOTIFYs to subscribers sent and not yet answered, at most; more wait their turn.
    /// A change to every mailbox (a forced refresh, a restart) then goes out as fast as
    /// the subscribers answer, not faster than their sockets can take.
    public var notifyWindow: Int

    public init(minimumExpires: Int = 60, maximumExpires: Int = 86_400, defaultExpires: Int = 3600,
                maximumPerMailbox: Int = 20, maximumTotal: Int = 200_000, trustedPeers: [AddressRange] = [],
                realm: String = "mwid", nonceLifetime: Int = 300, digestAlgorithms: [DigestAlgorithm] = [.md5], requestRate: Double = 20, requestBurst: Double = 100,
                retryBackoff: Duration = .seconds(2), cseqBlock: UInt32 = 1000, notifyWindow: Int = 1024) {
        self.minimumExpires = minimumExpires
        self.maximumExpires = maximumExpires
        self.defaultExpires = defaultExpires
        self.maximumPerMailbox = maximumPerMailbox
        self.maximumTotal = maximumTotal
        self.trustedPeers = trustedPeers
        self.realm = realm
        self.nonceLifetime = nonceLifetime
        self.digestAlgorithms = digestAlgorithms.isEmpty ? [.md5] : digestAlgorithms
        self.requestRate = requestRate
        self.requestBurst = requestBurst
        self.retryBackoff = retryBackoff
        self.cseqBlock = cseqBlock
        self.notifyWindow = max(1, notifyWindow)
    }

    public func isTrusted(_ address: String) -> Bool {
        trustedPeers.contains { $0.contains(address) }
    }
}
