import Crypto
import Testing
@testable import SIP

@Suite struct DigestTests {
    // RFC 2617 §3.5.
    @Test func rfc2617Vector() {
        let ha1 = SIPDigest.ha1(algorithm: .md5, username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life", nonce: "", cnonce: nil)
        let r = SIPDigest.response(
            algorithm: .md5, ha1: ha1, nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", nonceCount: 1, cnonce: "0a4f113b",
            qop: "auth", method: "GET", uri: "/dir/index.html")
        #expect(r == "6629fae49393a05397450978507c4ef1")
    }

    // RFC 7616 §3.9.1, both algorithms.
    @Test(arguments: [
        (DigestAlgorithm.md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (DigestAlgorithm.sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ])
    func rfc7616Vectors(algorithm: DigestAlgorithm, expected: String) throws {
        let challenge = try DigestChallenge(SIPAuthHeader(parsing: """
            Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=\(algorithm.rawValue), \
            nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
            """))
        #expect(challenge.qop == ["auth", "auth-int"])
        let c = SIPDigest.answer(challenge, method: "GET", uri: "/dir/index.html", username: "Mufasa", password: "Circle of Life",
                                 cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
        #expect(c.response == expected)
        #expect(c.qop == "auth")
        #expect(c.nonceCount == 1)
        #expect(c.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        // The header form survives a round trip.
        let header = c.header
        #expect(header.description.contains("nc=00000001"))
        #expect(try DigestCredentials(SIPAuthHeader(parsing: header.description)) == c)
    }

    @Test func answersAChallengeWithoutQop() {
        let c = SIPDigest.answer(DigestChallenge(realm: "r", nonce: "n", qop: []), method: .notify, uri: "sip:1@pbx",
                                 username: "mwi", password: "secret", cnonce: "ignored")
        #expect(c.qop == nil && c.cnonce == nil && c.nonceCount == nil)
        let ha1 = SIPDigest.ha1(algorithm: .md5, username: "mwi", realm: "r", password: "secret", nonce: "n", cnonce: nil)
        let ha2 = DigestAlgorithm.md5.hash("NOTIFY:sip:1@pbx")
        #expect(c.response == DigestAlgorithm.md5.hash("\(ha1):n:\(ha2)"))
    }

    @Test func sessionAlgorithmsHashTheNonceIntoHA1() {
        let plain = SIPDigest.ha1(algorithm: .sha256, username: "u", realm: "r", password: "p", nonce: "n", cnonce: "c")
        let sess = SIPDigest.ha1(algorithm: .sha256Session, username: "u", realm: "r", password: "p", nonce: "n", cnonce: "c")
        #expect(sess == DigestAlgorithm.sha256.hash("\(plain):n:c"))
    }

    @Test func authenticatorAcceptsValidCredentials() {
        var auth = DigestAuthenticator(realm: "mwid", secret: Array("server secret".utf8), nonceLifetime: 60)
        var rng = SplitMix64(seed: 1)
        for algorithm in [DigestAlgorithm.md5, .sha256] {
            let challenge = auth.challenge(now: 1_000, algorithm: algorithm, using: &rng)
            #expect(challenge.nonce.count == 64)
            let c = SIPDigest.answer(challenge, method: .subscribe, uri: "sip:1234@mwid", username: "1234", password: "pw", cnonce: "abc")
            #expect(auth.verify(c, method: .subscribe, password: "pw", now: 1_010) == .valid)
        }
    }

    /// A nonce is issued-at ‖ random, then the HMAC-SHA256 of those 16 bytes under the
    /// secret (truncated to 16), computed here in one shot; another node with the same
    /// secret accepts it.
    @Test func noncesAreHMACsOfTheSecretThatAnotherNodeAccepts() {
        let secret = Array("shared by every node".utf8)
        let first = DigestAuthenticator(realm: "mwid", secret: secret)
        let issuedAt: Int64 = 1_800_000_000
        for random: UInt64 in [0, 1, 0xdead_beef, .max] {
            var material: [UInt8] = []
            withUnsafeBytes(of: UInt64(issuedAt).bigEndian) { material.append(contentsOf: $0) }
            withUnsafeBytes(of: random.bigEndian) { material.append(contentsOf: $0) }
            let mac = HMAC<SHA256>.authenticationCode(for: material, using: SymmetricKey(data: secret))
            #expect(first.makeNonce(issuedAt: issuedAt, random: random)
                == SIPDigest.hex(material) + SIPDigest.hex(Array(Array(mac).prefix(16))))
        }
        var second = DigestAuthenticator(realm: "mwid", secret: secret)
        let challenge = first.challenge(now: 100)
        let c = SIPDigest.answer(challenge, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "x")
        #expect(second.verify(c, method: .subscribe, password: "pw", now: 101) == .valid)
    }

    @Test func authenticatorRefusesWrongPasswordMethodRealmAndForeignNonces() {
        var auth = DigestAuthenticator(realm: "mwid", secret: Array("k".utf8))
        let challenge = auth.challenge(now: 0)
        let c = SIPDigest.answer(challenge, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "x")
        #expect(auth.verify(c, method: .subscribe, password: "other", now: 1) == .invalid("wrong credentials"))
        #expect(auth.verify(c, method: .register, password: "pw", now: 1) == .invalid("wrong credentials"))
        var otherRealm = c
        otherRealm.realm = "elsewhere"
        #expect(auth.verify(otherRealm, method: .subscribe, password: "pw", now: 1) == .invalid("wrong realm"))
        // A nonce made with another secret is not ours.
        let foreign = DigestAuthenticator(realm: "mwid", secret: Array("other".utf8)).challenge(now: 0)
        let f = SIPDigest.answer(foreign, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "x")
        #expect(auth.verify(f, method: .subscribe, password: "pw", now: 1) == .invalid("unknown nonce"))
        // A tampered nonce neither.
        var tampered = challenge
        tampered.nonce = String(challenge.nonce.dropLast()) + (challenge.nonce.hasSuffix("0") ? "1" : "0")
        let t = SIPDigest.answer(tampered, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "x")
        #expect(auth.verify(t, method: .subscribe, password: "pw", now: 1) == .invalid("unknown nonce"))
    }

    @Test func expiredNoncesAreStale() {
        var auth = DigestAuthenticator(realm: "mwid", secret: Array("k".utf8), nonceLifetime: 30)
        let challenge = auth.challenge(now: 100)
        let c = SIPDigest.answer(challenge, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "x")
        #expect(auth.verify(c, method: .subscribe, password: "pw", now: 131) == .stale)
        #expect(auth.verify(c, method: .subscribe, password: "pw", now: 130) == .valid)
    }

    @Test func replaysAreRefused() {
        var auth = DigestAuthenticator(realm: "mwid", secret: Array("k".utf8))
        let challenge = auth.challenge(now: 0)
        let first = SIPDigest.answer(challenge, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "x", nonceCount: 1)
        #expect(auth.verify(first, method: .subscribe, password: "pw", now: 1) == .valid)
        #expect(auth.verify(first, method: .subscribe, password: "pw", now: 2) == .replay)
        let second = SIPDigest.answer(challenge, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "y", nonceCount: 2)
        #expect(auth.verify(second, method: .subscribe, password: "pw", now: 3) == .valid)
        #expect(auth.verify(first, method: .subscribe, password: "pw", now: 4) == .replay)
        // Without qop a nonce is good once.
        let noQop = DigestChallenge(realm: "mwid", nonce: auth.challenge(now: 5).nonce, qop: [])
        let once = SIPDigest.answer(noQop, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "z")
        #expect(auth.verify(once, method: .subscribe, password: "pw", now: 6) == .valid)
        #expect(auth.verify(once, method: .subscribe, password: "pw", now: 7) == .replay)
    }

    @Test func replayTrackingIsBoundedAndStaysSafe() {
        var auth = DigestAuthenticator(realm: "mwid", secret: Array("k".utf8), nonceLifetime: 1_000, maxTrackedNonces: 10)
        var rng = SplitMix64(seed: 3)
        var used: [DigestCredentials] = []
        for i in 0..<50 {
            let ch = auth.challenge(now: Int64(i), using: &rng)
            let c = SIPDigest.answer(ch, method: .subscribe, uri: "sip:1@mwid", username: "1", password: "pw", cnonce: "c")
            #expect(auth.verify(c, method: .subscribe, password: "pw", now: Int64(i)) == .valid)
            used.append(c)
        }
        #expect(auth.trackedNonces <= 10)
        // A forgotten nonce can never be replayed: it reads as stale.
        #expect(auth.verify(used[0], method: .subscribe, password: "pw", now: 60) == .stale)
        #expect(auth.verify(used[49], method: .subscribe, password: "pw", now: 60) == .replay)
    }

    @Test func malformedAuthHeadersAreErrors() {
        #expect(throws: SIPSyntaxError.self) { try SIPAuthHeader(parsing: "Digest realm=\"unterminated") }
        #expect(throws: SIPSyntaxError.self) { try SIPAuthHeader(parsing: "Digest realm") }
        #expect(throws: SIPSyntaxError.self) { try DigestChallenge(SIPAuthHeader(parsing: "Digest nonce=\"x\"")) }
        #expect(throws: SIPSyntaxError.self) { try DigestChallenge(SIPAuthHeader(parsing: "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1")) }
        #expect(throws: SIPSyntaxError.self) { try DigestChallenge(SIPAuthHeader(parsing: "Basic realm=\"r\"")) }
        #expect(throws: SIPSyntaxError.self) {
            try DigestCredentials(SIPAuthHeader(parsing: "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"r\", qop=auth, nc=1, cnonce=\"c\""))
        }
    }
}
