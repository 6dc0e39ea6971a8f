import Testing
@testable import SIP

/// Tortuous messages in the spirit of RFC 4475, written for mwid: valid ones that must
/// parse (with the values a careful reader would get), invalid ones that must fail with
/// the right reason and the right "can we answer?" flag.
@Suite struct TortureTests {
    // MARK: Valid

    @Test func tortuousSubscribe() throws {
        // Mixed-case and compact names, LWS around every separator, folding, escapes,
        // quoted display names with escaped quotes, several Vias on one line,
        // unknown headers and parameters, padded Content-Length.
        let m = try parse("""
        SUBSCRIBE sip:%31%32%33%34@mwid.example.com;unknownparam;transport=UDP SIP/2.0
        TO :
         "Alice \\"the\\" Boss"   <sip:1234@mwid.example.com;tpar=value>  ;  tag = a48s
        from   : "\\\\escaped\\\\"<sip:phone@192.0.2.10>;tag=1928301774 ; weird=  "quoted;,<>"
        MaX-fOrWaRdS: 0068
        Call-ID: 98asjd8@test-host.example.com
        cseq: 0009
          SUBSCRIBE
        v:   SIP  /  2.0  /  TCP   host1.example.com:5060 ; branch = z9hG4bKkdjuw ;rport , SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bK2;received=[2001:db8::9:255]
        Via: SIP/2.0/TLS host3.example.com;branch=z9hG4bK3
        o: message-summary ; id = 1
        Accept: application/simple-message-summary, application/x-other ; q = 0.5
        Expires: 3600
        NewFangledHeader:   newfangled value
         continued newfangled value
        UnknownHeaderWithUnusualValue: ;;,,;;,;
        Content-Length:    0

        """)
        #expect(m.method == .subscribe)
        let uri = try #require(m.requestURI)
        #expect(uri.user == "1234")
        #expect(uri.parameters.contains("unknownparam"))
        #expect(uri.transportParameter == "udp")

        let to = try #require(try m.to())
        #expect(to.displayName == "Alice \"the\" Boss")
        #expect(to.tag == "a48s")
        #expect(to.uri.parameters["tpar"] == "value")
        let from = try #require(try m.from())
        #expect(from.displayName == "\\escaped\\")
        #expect(from.uri.host == "192.0.2.10")
        #expect(from.parameters["weird"] == "\"quoted;,<>\"")
        #expect(from.parameters.unquotedValue("weird") == "quoted;,<>")
        #expect(try m.maxForwards() == 68)
        #expect(try m.cseq() == SIPCSeq(9, .subscribe))

        let vias = try m.vias()
        #expect(vias.count == 3)
        #expect(vias[0].transport == "TCP")
        #expect(vias[0].host == "host1.example.com")
        #expect(vias[0].branch == "z9hG4bKkdjuw")
        #expect(vias[0].rportRequested)
        #expect(vias[1].host == "[2001:db8::9:1]")
        #expect(vias[1].port == 5070)
        #expect(vias[1].received == "[2001:db8::9:255]")
        #expect(vias[2].transport == "TLS")
        #expect(try m.topVia()?.branch == "z9hG4bKkdjuw")

        #expect(try m.event()?.id == "1")
        let accept = try #require(try m.accept())
        #expect(accept.count == 2)
        #expect(accept[0].matches(.simpleMessageSummary))
        #expect(accept[1].parameters["q"] == "0.5")
        #expect(m.headers.first("newfangledheader") == "newfangled value continued newfangled value")
        #expect(m.headers.first("UnknownHeaderWithUnusualValue") == ";;,,;;,;")
        #expect(try m.contentLength() == 0)
    }

    @Test func wideRangeOfValidCharacters() throws {
        let m = try parse("""
        !interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0
        Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~
        To: "BEL:\\\u{07} NUL:\\\u{00} DEL:\\\u{7F}" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>
        From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="работающий";tag=_token~1'+`*%!-.
        Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/"][?}{
        CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~
        Max-Forwards: 255
        extensionHeader-!.%*+_`'~:﻿大停電
        Content-Length: 0

        """)
        #expect(m.method == SIPMethod("!interesting-Method0123456789_*+`.%indeed'~"))
        #expect(m.requestURI?.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        #expect(m.requestURI?.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        #expect(try m.to()?.displayName == "BEL:\u{07} NUL:\u{00} DEL:\u{7F}")
        #expect(try m.from()?.displayName == "token1~` token2'+_ token3*%!.-")
        #expect(try m.from()?.parameters.unquotedValue("fromParam''~+*_!.-%") == "работающий")
        #expect(m.callID == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
        #expect(m.headers.first("extensionHeader-!.%*+_`'~") == "\u{FEFF}大停電")
    }

    @Test func escapedNullAndSemicolonInUser() throws {
        let m = try parse("""
        REGISTER sip:example.com SIP/2.0
        To: sip:null-%00-null@example.com
        From: sip:null-%00-null@example.com;tag=839923423
        Max-Forwards: 70
        Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
        CSeq: 14398234 REGISTER
        Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
        Contact: <sip:%00@host5.example.com>
        Contact: <sip:%00%00@host5.example.com>
        Contact: <sip:user;par=u%40example.net@example.com>
        L:0

        """)
        let to = try #require(try m.to())
        #expect(to.uri.user == "null-\u{0}-null")
        #expect(to.tag == nil)
        #expect(try m.from()?.tag == "839923423")
        let contacts = try m.contacts()
        #expect(contacts.map { $0.uri.user } == ["\u{0}", "\u{0}\u{0}", "user;par=u@example.net"])
        #expect(contacts[2].uri.host == "example.com")
        // Escaped again when written.
        #expect(contacts[2].uri.description == "sip:user;par=u%40example.net@example.com")
    }

    @Test func otherSchemesAndTelURIs() throws {
        let m = try parse("""
        OPTIONS sip:user@example.com SIP/2.0
        To: <http://www.example.com/unknown?scheme=yes>
        From: <tel:+1-201-555-0123;phone-context=+1>;tag=1
        Max-Forwards: 70
        Call-ID: unksch.1
        CSeq: 1 OPTIONS
        Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1
        Route: <sip:proxy1.example.com;lr>, "Quoted, with comma" <sip:proxy2.example.com;lr>,<sip:[2001:db8::1]:5061;transport=tls;lr>
        Record-Route: <sips:rr.example.com;lr>
        Content-Length: 0

        """)
        #expect(try m.to()?.uri.scheme == .other("http"))
        #expect(try m.to()?.uri.opaque == "//www.example.com/unknown?scheme=yes")
        let from = try #require(try m.from())
        #expect(from.uri.scheme == .tel)
        #expect(from.uri.user == "+1-201-555-0123")
        #expect(from.uri.parameters["phone-context"] == "+1")
        let routes = try m.routes()
        #expect(routes.count == 3)
        #expect(routes[1].displayName == "Quoted, with comma")
        #expect(routes[2].uri.host == "[2001:db8::1]")
        #expect(routes[2].uri.port == 5061)
        #expect(routes.allSatisfy { $0.uri.parameters.contains("lr") })
        #expect(try m.recordRoutes().first?.uri.scheme == .sips)
    }

    @Test func unknownRequestURISchemeStillParses() throws {
        // The UA answers 416; the parser must not refuse the message.
        let m = try parse("""
        OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0
        To: sip:user@example.com
        From: sip:caller@example.net;tag=384
        Max-Forwards: 3
        Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34
        CSeq: 3923423 OPTIONS
        Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
        Content-Length: 0

        """)
        #expect(m.requestURI?.scheme == .other("nobodyKnowsThisScheme"))
    }

    @Test func registerWithWildcardContactAndHugeExpires() throws {
        let m = try parse("""
        REGISTER sip:example.com SIP/2.0
        Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1
        To: <sip:u@example.com>
        From: <sip:u@example.com>;tag=1
        Call-ID: reg1
        CSeq: 2 REGISTER
        Contact: *
        Expires: 280297596632815
        Min-Expires: 60
        Max-Forwards: 0

        """)
        #expect(m.contactIsWildcard)
        #expect(try m.contacts().isEmpty)
        #expect(try m.expires() == UInt32.max)
        #expect(try m.minExpires() == 60)
        #expect(try m.maxForwards() == 0)
    }

    @Test func manyViasAndLongValuesWithinLimits() throws {
        var text = "NOTIFY sip:h SIP/2.0\n"
        for i in 0..<100 { text += "Via: SIP/2.0/UDP host\(i).example.com;branch=z9hG4bK\(i)\n" }
        text += "From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 NOTIFY\n"
        text += "X-Long: " + String(repeating: "x", count: 8_000) + "\n\n"
        let m = try parse(text)
        #expect(try m.vias().count == 100)
        #expect(try m.vias()[99].branch == "z9hG4bK99")
        #expect(m.headers.first("X-Long")?.count == 8_000)
    }

    @Test func authHeadersKeepCommasInside() throws {
        let m = try parse("""
        SIP/2.0 401 Unauthorized
        Via: SIP/2.0/UDP h;branch=z9hG4bK1
        From: <sip:a@h>;tag=1
        To: <sip:b@h>;tag=2
        Call-ID: c
        CSeq: 1 SUBSCRIBE
        WWW-Authenticate: Digest realm="mwid, the \\"realm\\"", qop="auth,auth-int",
          nonce="abc", algorithm=SHA-256, opaque="", stale=FALSE
        WWW-Authenticate: Digest realm="mwid", nonce="def", algorithm=MD5
        Content-Length: 0

        """)
        let challenges = try m.wwwAuthenticate()
        #expect(challenges.count == 2)
        let first = try DigestChallenge(challenges[0])
        #expect(first.realm == "mwid, the \"realm\"")
        #expect(first.qop == ["auth", "auth-int"])
        #expect(first.algorithm == .sha256)
        #expect(first.opaque == "")
        #expect(!first.stale)
        #expect(try DigestChallenge(challenges[1]).qop.isEmpty)
    }

    @Test func binaryBodyIsKeptExactly() throws {
        var bytes = Array(crlf("""
        MESSAGE sip:h SIP/2.0
        Via: SIP/2.0/UDP h;branch=z9hG4bK1
        From: <sip:a@h>;tag=1
        To: <sip:b@h>
        Call-ID: c
        CSeq: 1 MESSAGE
        Content-Type: application/octet-stream
        Content-Length: 6


        """).utf8)
        bytes.append(contentsOf: [0, 255, 13, 10, 13, 10])
        let m = try SIPParser.parseDatagram(bytes)
        #expect(Array(m.body) == [0, 255, 13, 10, 13, 10])
    }

    // MARK: Invalid

    struct Invalid: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let kind: SIPParseError.Kind
        let canRespond: Bool
        var testDescription: String { name }
    }

    static let validHead = "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\nFrom: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>\nCall-ID: c1\n"

    static let invalid: [Invalid] = [
        Invalid(name: "Content-Length larger than the datagram", text: "NOTIFY sip:h SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\nContent-Length: 9999\n\nshort",
                kind: .contentLengthExceedsMessage, canRespond: true),
        Invalid(name: "negative Content-Length", text: "NOTIFY sip:h SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\nContent-Length: -999\n\n",
                kind: .invalidContentLength, canRespond: true),
        Invalid(name: "overlarge Content-Length", text: "NOTIFY sip:h SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\nContent-Length: 99999999999999999999999\n\n",
                kind: .invalidContentLength, canRespond: true),
        Invalid(name: "CSeq beyond 2^31", text: "NOTIFY sip:h SIP/2.0\n\(validHead)CSeq: 36893488147419103232 NOTIFY\n\n",
                kind: .malformedHeader("CSeq"), canRespond: false),
        Invalid(name: "Max-Forwards above 255", text: "NOTIFY sip:h SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\nMax-Forwards: 300\n\n",
                kind: .malformedHeader("Max-Forwards"), canRespond: true),
        Invalid(name: "unterminated quote in To", text: "NOTIFY sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@example.com>;tag=1\nTo: \"Mr. J. User <sip:j.user@example.com>\nCall-ID: c\nCSeq: 1 NOTIFY\n\n",
                kind: .malformedHeader("To"), canRespond: true),
        Invalid(name: "Request-URI in angle brackets", text: "NOTIFY <sip:user@example.com> SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .invalidRequestURI, canRespond: true),
        Invalid(name: "whitespace inside Request-URI", text: "NOTIFY sip:user@example.com; lr SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .malformedStartLine, canRespond: true),
        Invalid(name: "extra spaces in request line", text: "NOTIFY  sip:user@example.com  SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .malformedStartLine, canRespond: true),
        Invalid(name: "trailing space after version", text: "NOTIFY sip:user@example.com SIP/2.0 \n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .malformedStartLine, canRespond: true),
        Invalid(name: "unknown SIP version", text: "NOTIFY sip:user@example.com SIP/7.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .unsupportedVersion, canRespond: true),
        Invalid(name: "CSeq method differs from the request's", text: "NOTIFY sip:user@example.com SIP/2.0\n\(validHead)CSeq: 1 SUBSCRIBE\n\n",
                kind: .cseqMethodMismatch, canRespond: true),
        Invalid(name: "missing Call-ID", text: "NOTIFY sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCSeq: 1 NOTIFY\n\n",
                kind: .missingHeader("Call-ID"), canRespond: false),
        Invalid(name: "missing Via", text: "NOTIFY sip:h SIP/2.0\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 NOTIFY\n\n",
                kind: .missingHeader("Via"), canRespond: false),
        Invalid(name: "two To headers", text: "NOTIFY sip:h SIP/2.0\n\(validHead)To: <sip:other@example.com>\nCSeq: 1 NOTIFY\n\n",
                kind: .duplicateHeader("To"), canRespond: true),
        Invalid(name: "two Call-IDs (one compact)", text: "NOTIFY sip:h SIP/2.0\n\(validHead)i: c2\nCSeq: 1 NOTIFY\n\n",
                kind: .duplicateHeader("Call-ID"), canRespond: true),
        Invalid(name: "status code of four digits", text: "SIP/2.0 4294967301 Huge\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .invalidStatusCode, canRespond: false),
        Invalid(name: "status code below 100", text: "SIP/2.0 099 Low\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .invalidStatusCode, canRespond: false),
        Invalid(name: "header line without a colon", text: "NOTIFY sip:h SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\nThis is not a header\n\n",
                kind: .malformedHeaderLine, canRespond: true),
        Invalid(name: "NUL in a header value", text: "NOTIFY sip:h SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\nSubject: a\u{0}b\n\n",
                kind: .invalidCharacter, canRespond: true),
        Invalid(name: "bad sent-protocol in the only Via", text: "NOTIFY sip:h SIP/2.0\nVia: SIP/3.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 NOTIFY\n\n",
                kind: .malformedHeader("Via"), canRespond: false),
        Invalid(name: "continuation before any header", text: "NOTIFY sip:h SIP/2.0\n  folded\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .malformedHeaderLine, canRespond: true),
        Invalid(name: "bad escape in Request-URI user", text: "NOTIFY sip:%zzuser@h SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .invalidRequestURI, canRespond: true),
        Invalid(name: "port out of range", text: "NOTIFY sip:user@h:70000 SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .invalidRequestURI, canRespond: true),
        Invalid(name: "empty host", text: "NOTIFY sip:user@ SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .invalidRequestURI, canRespond: true),
        Invalid(name: "unbalanced IPv6 bracket", text: "NOTIFY sip:user@[2001:db8::1 SIP/2.0\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .invalidRequestURI, canRespond: true),
        Invalid(name: "Call-ID with a space", text: "NOTIFY sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: has space\nCSeq: 1 NOTIFY\n\n",
                kind: .malformedHeader("Call-ID"), canRespond: false),
        Invalid(name: "start line only garbage", text: "\u{1}\u{2}\u{3} garbage\n\n",
                kind: .malformedStartLine, canRespond: false),
        Invalid(name: "missing SIP version", text: "NOTIFY sip:h\n\(validHead)CSeq: 1 NOTIFY\n\n",
                kind: .malformedStartLine, canRespond: true),
    ]

    @Test(arguments: invalid)
    func invalidMessageFails(_ c: Invalid) throws {
        let e = try #require(parseError(c.text))
        #expect(e.kind == c.kind, "\(c.name): \(e.reason)")
        #expect(e.canRespond == c.canRespond, "\(c.name)")
        #expect(!e.reason.isEmpty && !e.reason.contains("\r") && !e.reason.contains("\n"))
        if e.canRespond {
            // A 400 (or 505/513) can be built from what was read.
            let headers = try #require(e.headers)
            let response = SIPMessage.response(to: headers, statusCode: e.statusCode, reasonPhrase: e.reason)
            #expect(response.headers.values(.to).count == 1 && response.headers.values(.callID).count == 1)
            #expect(try response.topVia()?.branch == "z9hG4bK1")
            // The response carries the peer's own From/To; when those were the fault, it
            // is theirs to read, otherwise it must be a message we accept ourselves.
            if e.kind != .malformedHeader("To") && e.kind != .malformedHeader("From") {
                let reparsed = try SIPParser.parseDatagram(response.serialize())
                #expect(reparsed.statusCode == e.statusCode)
                #expect(reparsed.reasonPhrase == e.reason)
            }
        }
    }

    @Test func unsupportedVersionAsks505() throws {
        let e = try #require(parseError("NOTIFY sip:h SIP/2.1\n\(Self.validHead)CSeq: 1 NOTIFY\n\n"))
        #expect(e.statusCode == 505)
    }

    @Test func invalidUTF8InHeaderValue() throws {
        var bytes = Array(crlf("NOTIFY sip:h SIP/2.0\n\(Self.validHead)CSeq: 1 NOTIFY\nSubject: ").utf8)
        bytes += [0xC3, 0x28]  // invalid continuation
        bytes += Array("\r\n\r\n".utf8)
        #expect(throws: SIPParseError.self) { try SIPParser.parseDatagram(bytes) }
        do {
            _ = try SIPParser.parseDatagram(bytes)
        } catch {
            #expect(error.kind == .invalidUTF8)
        }
    }
}
