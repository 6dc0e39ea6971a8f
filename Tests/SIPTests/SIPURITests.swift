import Testing
@testable import SIP

@Suite struct SIPURITests {
    @Test func parsesEveryPart() throws {
        let uri = try SIPURI(parsing: "sips:al%69ce:sec%72et@[2001:db8::10]:5061;transport=tls;user=phone;lr;x=%41?subject=hi%20there&priority=urgent")
        #expect(uri.scheme == .sips)
        #expect(uri.user == "alice")
        #expect(uri.password == "secret")
        #expect(uri.host == "[2001:db8::10]")
        #expect(uri.port == 5061)
        #expect(uri.transportParameter == "tls")
        #expect(uri.parameters["user"] == "phone")
        #expect(uri.parameters.contains("lr"))
        #expect(uri.parameters["lr"] == .some(nil))
        #expect(uri.parameters["x"] == "%41")
        #expect(uri.headers == [.init(name: "subject", value: "hi%20there"), .init(name: "priority", value: "urgent")])
        #expect(uri.isSecure)
    }

    @Test func writesCanonically() throws {
        let uri = try SIPURI(parsing: "SIP:%61lice@Atlanta.COM;Transport=TCP")
        #expect(uri.description == "sip:alice@Atlanta.COM;Transport=TCP")
        var u = SIPURI(host: "pbx.example.com")
        u.user = "a b@c"
        #expect(u.description == "sip:a%20b%40c@pbx.example.com")
        #expect(try SIPURI(parsing: u.description) == u)
        #expect(SIPURI.tel("+15551234567").description == "tel:+15551234567")
    }

    @Test func ipv4AndHostNames() throws {
        #expect(try SIPURI(parsing: "sip:192.0.2.1:5060").host == "192.0.2.1")
        #expect(try SIPURI(parsing: "sip:pbx-1.example.com.").host == "pbx-1.example.com.")
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:bad..host") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:-bad.host") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:host:") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:host:99999") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:[::1") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:us er@host") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:user@host;=x") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:user@host?novalue") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "nocolon") }
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "sip:%FFuser@host") }
    }

    @Test func telURIs() throws {
        let t = try SIPURI(parsing: "tel:+1-201-555-0123;ext=42")
        #expect(t.scheme == .tel)
        #expect(t.user == "+1-201-555-0123")
        #expect(t.parameters["ext"] == "42")
        #expect(t.isEquivalent(to: try SIPURI(parsing: "tel:+12015550123;EXT=42")))
        #expect(throws: SIPSyntaxError.self) { try SIPURI(parsing: "tel:") }
    }

    // RFC 3261 §19.1.4: the sets it calls equivalent …
    @Test(arguments: [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5"),
        ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
         "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
         "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
    ])
    func equivalent(a: String, b: String) throws {
        let x = try SIPURI(parsing: a)
        let y = try SIPURI(parsing: b)
        #expect(x.isEquivalent(to: y))
        #expect(y.isEquivalent(to: x))
    }

    // … and those it does not.
    @Test(arguments: [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ("sip:alice@atlanta.com;maddr=239.255.255.1", "sip:alice@atlanta.com"),
        ("sip:alice@atlanta.com;user=phone", "sip:alice@atlanta.com"),
        ("sip:alice:pw@atlanta.com", "sip:alice@atlanta.com"),
    ])
    func notEquivalent(a: String, b: String) throws {
        let x = try SIPURI(parsing: a)
        let y = try SIPURI(parsing: b)
        #expect(!x.isEquivalent(to: y))
        #expect(!y.isEquivalent(to: x))
    }
}

@Suite struct URICharacterClassTests {
    @Test func masksMatchRFC3261() {
        func set(_ extra: String, hex: Bool = false, unreserved: Bool = true) -> (UInt8) -> Bool {
            { c in
                let ch = Character(UnicodeScalar(c))
                if c < 128, unreserved, ch.isLetter || ch.isNumber || "-_.!~*'()".contains(ch) { return true }
                if c < 128, hex, ch.isHexDigit { return true }
                return extra.utf8.contains(c)
            }
        }
        let classes: [(String, (UInt8) -> Bool, (UInt8) -> Bool)] = [
            ("user", URIEscaping.isUserChar, set("&=+$,;?/")),
            ("password", URIEscaping.isPasswordChar, set("&=+$,")),
            ("param", URIEscaping.isParamChar, set("%[]/:&+$")),
            ("header", URIEscaping.isHeaderChar, set("%[]/?:+$")),
            ("telephone", URIEscaping.isTelephoneChar, set("*#+-.()", hex: true, unreserved: false)),
        ]
        for (name, actual, expected) in classes {
            for c in UInt8.min...UInt8.max {
                #expect(actual(c) == expected(c), "\(name) \(c)")
            }
        }
    }
}
