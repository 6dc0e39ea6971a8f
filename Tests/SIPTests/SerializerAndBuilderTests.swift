import Testing
@testable import SIP

@Suite struct SerializerAndBuilderTests {
    @Test func writesFullCanonicalNamesAndExactContentLength() throws {
        let m = try parse("""
        OPTIONS sip:host SIP/2.0
        v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
        f: <sip:a@example.com>;tag=1
        t: <sip:b@example.com>
        i: abc
        CSEQ: 1 OPTIONS
        x-custom: kept as is
        l:    0007

        1234567
        """)
        let text = m.text
        #expect(text == crlf("""
        OPTIONS sip:host SIP/2.0
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
        From: <sip:a@example.com>;tag=1
        To: <sip:b@example.com>
        Call-ID: abc
        CSeq: 1 OPTIONS
        x-custom: kept as is
        Content-Length: 7

        1234567
        """))
    }

    @Test func addsContentLengthWhenMissing() throws {
        var m = try SIPParser.parse(sampleNotify)
        m.headers.remove(.contentLength)
        m.body = Array("hello".utf8)[...]
        let out = try SIPParser.parseDatagram(m.serialize())
        #expect(try out.contentLength() == 5)
        #expect(out.bodyText == "hello")
        #expect(out.headers.values(.contentLength).count == 1)
    }

    @Test func parseSerializeParseIsStable() throws {
        let m = try SIPParser.parse(sampleNotify)
        let bytes = m.serialize()
        let again = try SIPParser.parseDatagram(bytes)
        #expect(again == m)
        #expect(again.serialize() == bytes)
        #expect(bytes == Array(sampleNotify.utf8))
    }

    @Test func headerEditing() throws {
        var h = SIPHeaders()
        h.add(.via, "SIP/2.0/UDP a;branch=z9hG4bK1")
        h.add("X-A", "1")
        h.add("x-a", "2")
        h.insert(.via, "SIP/2.0/UDP b;branch=z9hG4bK2", at: 0)
        #expect(h.values(.via) == ["SIP/2.0/UDP b;branch=z9hG4bK2", "SIP/2.0/UDP a;branch=z9hG4bK1"])
        #expect(h.values("X-A") == ["1", "2"])
        h.set("X-A", "3")
        #expect(h.values("x-a") == ["3"])
        h.remove(.via)
        #expect(!h.contains(.via))
        #expect(h.count == 1)
        // A value can never inject a header line.
        h.add(.subject, "evil\r\nVia: injected")
        #expect(h.first(.subject) == "evil  Via: injected")
    }

    @Test func quotedStringsEscapeQuotesAndBackslashesOnly() {
        #expect(SIPQuoting.quote("") == #""""#)
        #expect(SIPQuoting.quote("mwid") == #""mwid""#)
        #expect(SIPQuoting.quote("Zoë 😀, a;b=c") == #""Zoë 😀, a;b=c""#)
        #expect(SIPQuoting.quote(#"say "hi" \ bye"#) == #""say \"hi\" \\ bye""#)
        #expect(SIPQuoting.quote(#"\""#) == #""\\\"""#)
    }

    @Test func identifiersAreFixedWidthLowercaseHex() {
        struct Fixed: RandomNumberGenerator {
            var value: UInt64
            mutating func next() -> UInt64 { value }
        }
        var small = Fixed(value: 0xA5)
        #expect(SIPIdentifiers.tag(using: &small) == "00000000000000a")  // 60 bits: 0xA5 >> 4
        #expect(SIPIdentifiers.branch(using: &small) == "z9hG4bK00000000000000a5")
        var large = Fixed(value: .max)
        #expect(SIPIdentifiers.callID(using: &large) == String(repeating: "f", count: 32))
        // The process-wide buffered generator: distinct values, across refills of its buffer.
        var shared = SharedSystemRandom()
        let tags = Set((0..<1_000).map { _ in SIPIdentifiers.tag(using: &shared) })
        #expect(tags.count == 1_000 && tags.allSatisfy { $0.utf8.count == 15 })
    }

    @Test func buildsARequest() throws {
        var rng = SplitMix64(seed: 7)
        let branch = SIPIdentifiers.branch(using: &rng)
        #expect(branch.hasPrefix("z9hG4bK") && branch.count == 23)
        let tag = SIPIdentifiers.tag(using: &rng)
        let callID = SIPIdentifiers.callID(host: "mwid.example.com", using: &rng)
        #expect(callID.hasSuffix("@mwid.example.com"))
        let summary = MessageSummary(voice: .init(new: 2, old: 8, urgentNew: 1, urgentOld: 0), messageAccount: "sip:1234@pbx.example.com")
        let request = SIPMessage.request(
            method: .notify, uri: SIPURI(user: "1234", host: "pbx.example.com"),
            via: SIPVia(transport: "tcp", host: "mwid.example.com", port: 5060, branch: branch),
            from: SIPNameAddress(uri: SIPURI(user: "mwid", host: "mwid.example.com"), parameters: [("tag", tag)]),
            to: SIPNameAddress(uri: SIPURI(user: "1234", host: "pbx.example.com")),
            callID: callID, cseq: 1,
            contact: SIPNameAddress(uri: SIPURI(user: "mwid", host: "mwid.example.com", port: 5060, parameters: [("transport", "tcp")])),
            headers: [(.event, "message-summary"), (.subscriptionState, SIPSubscriptionState(.terminated, reason: "noresource").description)],
            contentType: .simpleMessageSummary, body: summary.bytes)
        let parsed = try SIPParser.parseDatagram(request.serialize())
        #expect(parsed == request)
        #expect(parsed.headers.count == 11)
        #expect(parsed.headers[0].name == "Via")
        #expect(parsed.headers.first(.via) == "SIP/2.0/TCP mwid.example.com:5060;branch=\(branch)")
        #expect(try parsed.topVia()?.transport == "TCP")
        #expect(try parsed.maxForwards() == 70)
        #expect(try parsed.from()?.tag == tag)
        #expect(try parsed.cseq() == SIPCSeq(1, .notify))
        #expect(parsed.headers.first(.contact) == "<sip:mwid@mwid.example.com:5060;transport=tcp>")
        #expect(parsed.headers.first(.subscriptionState) == "terminated;reason=noresource")
        #expect(parsed.headers.first(.contentType) == "application/simple-message-summary")
        #expect(parsed.bodyText == "Messages-Waiting: yes\r\nMessage-Account: sip:1234@pbx.example.com\r\nVoice-Message: 2/8 (1/0)\r\n")
    }

    @Test func buildsAResponseFromARequest() throws {
        let request = try parse("""
        SUBSCRIBE sip:1234@mwid SIP/2.0
        Via: SIP/2.0/UDP phone.example.com:5062;branch=z9hG4bKa;rport
        v: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKb
        Max-Forwards: 70
        From: "Phone" <sip:1234@mwid>;tag=ph1
        To: <sip:1234@mwid>
        Call-ID: sub-1@phone
        CSeq: 20 SUBSCRIBE
        Event: message-summary
        Record-Route: <sip:proxy.example.com;lr>
        Content-Length: 0

        """)
        let r = request.makeResponse(statusCode: 200, toTag: "srv9")
        #expect(r.statusCode == 200)
        #expect(r.reasonPhrase == "OK")
        let parsed = try SIPParser.parseDatagram(r.serialize())
        #expect(try parsed.vias().map(\.branch) == ["z9hG4bKa", "z9hG4bKb"])
        #expect(try parsed.from()?.tag == "ph1")
        #expect(try parsed.to()?.tag == "srv9")
        #expect(parsed.callID == "sub-1@phone")
        #expect(try parsed.cseq() == SIPCSeq(20, .subscribe))
        #expect(!parsed.headers.contains(.event))
        // An existing To-tag is kept.
        let again = parsed.makeResponse(statusCode: 481, toTag: "other")
        #expect(try again.to()?.tag == "srv9")
        #expect(again.reasonPhrase == "Call/Transaction Does Not Exist")
        // Reason phrases never carry line breaks.
        #expect(request.makeResponse(statusCode: 400, reasonPhrase: "bad\r\nX: y").reasonPhrase == "bad  X: y")
    }

    @Test func typedValuesRoundTrip() throws {
        let via = try SIPVia(parsing: "SIP/2.0/udp [::1]:5060;branch=z9hG4bKx;rport")
        #expect(via.description == "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx;rport")
        #expect(via.hasRFC3261Branch)
        var v = via
        v.rport = 5062
        v.received = "127.0.0.1"
        #expect(v.description == "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx;rport=5062;received=127.0.0.1")
        let na = try SIPNameAddress(parsing: "Bob Smith <sip:bob@example.com>;tag=x")
        #expect(na.description == "\"Bob Smith\" <sip:bob@example.com>;tag=x")
        #expect(try SIPNameAddress(parsing: na.description) == na)
        let addrSpec = try SIPNameAddress(parsing: "sip:bob@example.com;tag=y")
        #expect(addrSpec.uri.parameters.isEmpty)
        #expect(addrSpec.tag == "y")
        let ss = try SIPParser.parse(crlf("NOTIFY sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 NOTIFY\nSubscription-State: active;expires=600;retry-after=5\nAllow: NOTIFY, SUBSCRIBE,OPTIONS\nAccept:\n\n")).subscriptionState()
        #expect(ss?.state == .active)
        #expect(ss?.expires == 600)
        #expect(ss?.retryAfter == 5)
    }

    @Test func allowAndEmptyAccept() throws {
        let m = try SIPParser.parse(crlf("OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\nAllow: NOTIFY, SUBSCRIBE,OPTIONS\nAccept:\n\n"))
        #expect(try m.allow() == [.notify, .subscribe, .options])
        #expect(try m.accept() == [])
        let none = try SIPParser.parse(sampleNotify)
        #expect(try none.accept() == nil)
    }

    @Test func malformedTypedHeaderNamesTheHeader() throws {
        let m = try SIPParser.parse(crlf("OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\nEvent: ;bad\nExpires: soon\n\n"))
        #expect(throws: SIPHeaderError(header: "Event", reason: "missing token")) { try m.event() }
        #expect(throws: SIPHeaderError.self) { try m.expires() }
    }
}
