import Crypto

/// The server side of digest authentication: issues challenges with self-validating
/// nonces and verifies credentials, refusing expired nonces (`stale`) and replays.
///
/// A nonce is `hex(issued-at ‖ random ‖ HMAC-SHA256(secret, issued-at ‖ random)[0..<16])`,
/// so any node holding the secret can check it without shared state; replay protection
/// tracks, per nonce still alive, the highest nonce count accepted. Time is passed in
/// (seconds since the epoch); the value is owned by whoever owns the authenticator (an
/// actor or an event loop).
public struct DigestAuthenticator: Sendable {
    public enum Verdict: Sendable, Equatable {
        case valid
        /// The nonce was ours but has expired: challenge again with `stale=true`.
        case stale
        /// A nonce count not above the last one accepted for this nonce.
        case replay
        case invalid(String)
    }

    public let realm: String
    public let nonceLifetime: Int64
    public let maxTrackedNonces: Int
    /// HMAC-SHA256 keyed with the secret once (its padded key blocks hashed): each nonce
    /// made or checked copies it and hashes only its own 16 bytes.
    private let keyed: HMAC<SHA256>
    /// A nonce this authenticator made, by what it was made of (16 bytes, not its 64
    /// characters: one is tracked for every client that authenticated recently).
    private struct NonceKey: Hashable {
        var issuedAt: Int64
        var random: UInt64
    }

    /// nonce → highest nonce count accepted (0 = used without qop).
    private var seen: [NonceKey: UInt32] = [:]
    private var seenOrder: [NonceKey] = []
    private var seenHead = 0
    /// Live nonces issued at or before this time were forgotten to respect the cap; they
    /// are answered `stale` so they can never be replayed.
    private var forgottenUpTo: Int64 = .min

    public init(realm: String, secret: [UInt8], nonceLifetime: Int64 = 300, maxTrackedNonces: Int = 100_000) {
        self.realm = realm
        self.nonceLifetime = nonceLifetime
        self.maxTrackedNonces = maxTrackedNonces
        keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
    }

    /// A fresh challenge (qop `auth`).
    public func challenge(now: Int64, algorithm: DigestAlgorithm = .md5, stale: Bool = false,
                          using rng: inout some RandomNumberGenerator) -> DigestChallenge {
        DigestChallenge(realm: realm, nonce: makeNonce(issuedAt: now, random: rng.next()), algorithm: algorithm, qop: ["auth"], stale: stale)
    }

    public func challenge(now: Int64, algorithm: DigestAlgorithm = .md5, stale: Bool = false) -> DigestChallenge {
        var rng = SharedSystemRandom()
        return challenge(now: now, algorithm: algorithm, stale: stale, using: &rng)
    }

    /// Checks credentials for a request with `method` against the user's password.
    public mutating func verify(_ c: DigestCredentials, method: SIPMethod, password: String, now: Int64) -> Verdict {
        let ha1 = SIPDigest.ha1(algorithm: c.algorithm, username: c.username, realm: c.realm, password: password,
                                nonce: c.nonce, cnonce: c.cnonce)
        return verify(c, method: method, ha1: ha1, now: now)
    }

    /// Checks credentials given the stored HA1 (H(username:realm:password)) for a
    /// non-session algorithm, so passwords need not be kept in clear.
    public mutating func verify(_ c: DigestCredentials, method: SIPMethod, ha1: String, now: Int64) -> Verdict {
        guard c.realm == realm else { return .invalid("wrong realm") }
        guard let (issuedAt, random) = material(of: c.nonce) else { return .invalid("unknown nonce") }
        let key = NonceKey(issuedAt: issuedAt, random: random)
        if let qop = c.qop, !ASCII.equalsIgnoringCase(qop.utf8, "auth".utf8) { return .invalid("unsupported qop") }
        let expected = SIPDigest.response(
            algorithm: c.algorithm, ha1: ha1, nonce: c.nonce, nonceCount: c.nonceCount, cnonce: c.cnonce, qop: c.qop,
            method: method, uri: c.uri)
        guard SIPDigest.constantTimeEqual(expected, c.response.lowercased()) else { return .invalid("wrong credentials") }
        guard now - issuedAt <= nonceLifetime, issuedAt <= now + 60 else { return .stale }
        // Replay protection: the nonce count must grow; without qop a nonce is single-use.
        let count = c.qop == nil ? 0 : (c.nonceCount ?? 0)
        if let last = seen[key] {
            guard c.qop != nil, count > last else { return .replay }
        } else {
            guard issuedAt > forgottenUpTo else { return .stale }
            remember(key, now: now)
        }
        seen[key] = count
        return .valid
    }

    private mutating func remember(_ key: NonceKey, now: Int64) {
        // Forget nonces that have expired (they are refused as stale anyway), then, while
        // still full, the oldest live ones (raising the watermark that makes them stale).
        while seenHead < seenOrder.count,
              now - seenOrder[seenHead].issuedAt > nonceLifetime || seen.count >= maxTrackedNonces {
            let oldest = seenOrder[seenHead]
            if now - oldest.issuedAt <= nonceLifetime { forgottenUpTo = max(forgottenUpTo, oldest.issuedAt) }
            seen[oldest] = nil
            seenHead += 1
        }
        if seenHead > 1024, seenHead * 2 > seenOrder.count {
            seenOrder.removeFirst(seenHead)
            seenHead = 0
        }
        seenOrder.append(key)
    }

    /// Number of nonces currently tracked for replay protection.
    public var trackedNonces: Int { seen.count }

    func makeNonce(issuedAt: Int64, random: UInt64) -> String {
        var material: [UInt8] = []
        material.reserveCapacity(16)
        withUnsafeBytes(of: UInt64(bitPattern: issuedAt).bigEndian) { material.append(contentsOf: $0) }
        withUnsafeBytes(of: random.bigEndian) { material.append(contentsOf: $0) }
        let mac = authenticationCode(material)
        return SIPDigest.hex(material) + SIPDigest.hex(Array(mac).prefix(16))
    }

    private func authenticationCode(_ material: [UInt8]) -> HashedAuthenticationCode<SHA256> {
        var mac = keyed
        mac.update(data: material)
        return mac.finalize()
    }

    /// The issue time of a nonce this authenticator made, or `nil` when it is not ours.
    func issuedAt(of nonce: String) -> Int64? { material(of: nonce)?.issuedAt }

    /// What a nonce this authenticator made was made of, or `nil` when it is not ours.
    private func material(of nonce: String) -> (issuedAt: Int64, random: UInt64)? {
        let u = Array(nonce.utf8)
        guard u.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var i = 0
        while i < 64 {
            guard let hi = ASCII.hexValue(u[i]), let lo = ASCII.hexValue(u[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        let material = Array(bytes[0..<16])
        let mac = Array(authenticationCode(material)).prefix(16)
        var diff: UInt8 = 0
        for (x, y) in zip(mac, bytes[16..<32]) { diff |= x ^ y }
        guard diff == 0 else { return nil }
        var t: UInt64 = 0, r: UInt64 = 0
        for b in material[0..<8] { t = t << 8 | UInt64(b) }
        for b in material[8..<16] { r = r << 8 | UInt64(b) }
        return (Int64(bitPattern: t), r)
    }
}
