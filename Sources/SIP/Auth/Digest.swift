import Crypto

/// Digest algorithms of RFC 7616 (MD5 kept for RFC 2617 peers, which is most PBXs).
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case md5 = "MD5"
    case md5Session = "MD5-sess"
    case sha256 = "SHA-256"
    case sha256Session = "SHA-256-sess"

    /// Case-insensitive lookup of an `algorithm` parameter.
    public init?(name: String) {
        guard let a = Self.allCases.first(where: { ASCII.equalsIgnoringCase($0.rawValue.utf8, name.utf8) }) else { return nil }
        self = a
    }

    var isSession: Bool { self == .md5Session || self == .sha256Session }

    /// Lower-case hex digest of the UTF-8 bytes of `s`.
    public func hash(_ s: String) -> String {
        switch self {
        case .md5, .md5Session: SIPDigest.hex(Insecure.MD5.hash(data: Array(s.utf8)))
        case .sha256, .sha256Session: SIPDigest.hex(SHA256.hash(data: Array(s.utf8)))
        }
    }
}

/// A digest challenge (`WWW-Authenticate` / `Proxy-Authenticate: Digest …`).
public struct DigestChallenge: Sendable, Equatable {
    public var realm: String
    public var nonce: String
    public var opaque: String?
    public var algorithm: DigestAlgorithm
    /// Offered qop values; empty for an RFC 2069 style challenge.
    public var qop: [String]
    public var stale: Bool

    public init(realm: String, nonce: String, opaque: String? = nil, algorithm: DigestAlgorithm = .md5, qop: [String] = ["auth"], stale: Bool = false) {
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithm = algorithm
        self.qop = qop
        self.stale = stale
    }

    public init(_ header: SIPAuthHeader) throws(SIPSyntaxError) {
        guard header.isDigest else { throw SIPSyntaxError("not a Digest challenge") }
        guard let realm = header["realm"], let nonce = header["nonce"] else {
            throw SIPSyntaxError("Digest challenge without realm or nonce")
        }
        let algorithmName = header["algorithm"] ?? "MD5"
        guard let algorithm = DigestAlgorithm(name: algorithmName) else {
            throw SIPSyntaxError("unsupported digest algorithm \(algorithmName)")
        }
        self.init(
            realm: realm, nonce: nonce, opaque: header["opaque"], algorithm: algorithm,
            qop: (header["qop"] ?? "").split(separator: ",").map { String($0.filter { $0 != " " && $0 != "\t" }) }.filter { !$0.isEmpty },
            stale: header["stale"].map { ASCII.equalsIgnoringCase($0.utf8, "true".utf8) } ?? false)
    }

    public var header: SIPAuthHeader {
        var h = SIPAuthHeader(scheme: "Digest")
        h.set("realm", realm, quoted: true)
        h.set("nonce", nonce, quoted: true)
        if let opaque { h.set("opaque", opaque, quoted: true) }
        h.set("algorithm", algorithm.rawValue, quoted: false)
        if !qop.isEmpty { h.set("qop", qop.joined(separator: ","), quoted: true) }
        if stale { h.set("stale", "true", quoted: false) }
        return h
    }
}

/// Digest credentials (`Authorization` / `Proxy-Authorization: Digest …`).
public struct DigestCredentials: Sendable, Equatable {
    public var username: String
    public var realm: String
    public var nonce: String
    public var uri: String
    public var response: String
    public var algorithm: DigestAlgorithm
    public var cnonce: String?
    public var opaque: String?
    public var qop: String?
    public var nonceCount: UInt32?

    public init(
        username: String, realm: String, nonce: String, uri: String, response: String, algorithm: DigestAlgorithm = .md5,
        cnonce: String? = nil, opaque: String? = nil, qop: String? = nil, nonceCount: UInt32? = nil
    ) {
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.cnonce = cnonce
        self.opaque = opaque
        self.qop = qop
        self.nonceCount = nonceCount
    }

    public init(_ header: SIPAuthHeader) throws(SIPSyntaxError) {
        guard header.isDigest else { throw SIPSyntaxError("not Digest credentials") }
        guard let username = header["username"], let realm = header["realm"], let nonce = header["nonce"],
              let uri = header["uri"], let response = header["response"]
        else { throw SIPSyntaxError("Digest credentials missing username, realm, nonce, uri or response") }
        let algorithmName = header["algorithm"] ?? "MD5"
        guard let algorithm = DigestAlgorithm(name: algorithmName) else {
            throw SIPSyntaxError("unsupported digest algorithm \(algorithmName)")
        }
        var nc: UInt32?
        if let text = header["nc"] {
            guard text.utf8.count == 8, let value = UInt32(text, radix: 16) else { throw SIPSyntaxError("bad nonce count") }
            nc = value
        }
        self.init(
            username: username, realm: realm, nonce: nonce, uri: uri, response: response, algorithm: algorithm,
            cnonce: header["cnonce"], opaque: header["opaque"], qop: header["qop"], nonceCount: nc)
        if qop != nil, cnonce == nil || nc == nil { throw SIPSyntaxError("qop without cnonce or nc") }
    }

    public var header: SIPAuthHeader {
        var h = SIPAuthHeader(scheme: "Digest")
        h.set("username", username, quoted: true)
        h.set("realm", realm, quoted: true)
        h.set("nonce", nonce, quoted: true)
        h.set("uri", uri, quoted: true)
        h.set("response", response, quoted: true)
        h.set("algorithm", algorithm.rawValue, quoted: false)
        if let cnonce { h.set("cnonce", cnonce, quoted: true) }
        if let opaque { h.set("opaque", opaque, quoted: true) }
        if let qop { h.set("qop", qop, quoted: false) }
        if let nonceCount { h.set("nc", SIPDigest.nonceCountText(nonceCount), quoted: false) }
        return h
    }
}

/// The digest computations of RFC 2617 / RFC 7616 (qop `auth`, or none).
public enum SIPDigest {
    /// HA1 = H(username:realm:password), or for -sess H(H(username:realm:password):nonce:cnonce).
    public static func ha1(algorithm: DigestAlgorithm, username: String, realm: String, password: String, nonce: String, cnonce: String?) -> String {
        let base = algorithm.hash("\(username):\(realm):\(password)")
        guard algorithm.isSession else { return base }
        return algorithm.hash("\(base):\(nonce):\(cnonce ?? "")")
    }

    /// request-digest = H(HA1:nonce:nc:cnonce:qop:HA2) with qop, H(HA1:nonce:HA2) without;
    /// HA2 = H(method:uri).
    public static func response(
        algorithm: DigestAlgorithm, ha1: String, nonce: String, nonceCount: UInt32?, cnonce: String?, qop: String?,
        method: SIPMethod, uri: String
    ) -> String {
        let ha2 = algorithm.hash("\(method.rawValue):\(uri)")
        if let qop {
            return algorithm.hash("\(ha1):\(nonce):\(nonceCountText(nonceCount ?? 1)):\(cnonce ?? ""):\(qop):\(ha2)")
        }
        return algorithm.hash("\(ha1):\(nonce):\(ha2)")
    }

    /// Answers a challenge: credentials for `method` on `uri` (the Request-URI as text).
    /// Uses qop `auth` when offered; `cnonce` is the client's random value.
    public static func answer(
        _ challenge: DigestChallenge, method: SIPMethod, uri: String, username: String, password: String,
        cnonce: String, nonceCount: UInt32 = 1
    ) -> DigestCredentials {
        let qop: String? = challenge.qop.contains { ASCII.equalsIgnoringCase($0.utf8, "auth".utf8) } ? "auth" : nil
        let ha1 = ha1(algorithm: challenge.algorithm, username: username, realm: challenge.realm, password: password,
                      nonce: challenge.nonce, cnonce: cnonce)
        let response = response(
            algorithm: challenge.algorithm, ha1: ha1, nonce: challenge.nonce, nonceCount: qop == nil ? nil : nonceCount,
            cnonce: qop == nil ? nil : cnonce, qop: qop, method: method, uri: uri)
        return DigestCredentials(
            username: username, realm: challenge.realm, nonce: challenge.nonce, uri: uri, response: response,
            algorithm: challenge.algorithm, cnonce: qop == nil ? nil : cnonce, opaque: challenge.opaque, qop: qop,
            nonceCount: qop == nil ? nil : nonceCount)
    }

    /// A random client nonce.
    public static func makeCNonce(using rng: inout some RandomNumberGenerator) -> String {
        SIPIdentifiers.hex(rng.next(), digits: 16) + SIPIdentifiers.hex(rng.next(), digits: 16)
    }

    static func nonceCountText(_ nc: UInt32) -> String {
        SIPIdentifiers.hex(UInt64(nc), digits: 8)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Constant-time comparison of two strings' bytes.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
