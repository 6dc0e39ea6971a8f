import Foundation
import Testing
@testable import SIP

@Suite struct SIPParserTests {
    @Test func parsesTypicalNotify() throws {
        let m = try SIPParser.parse(sampleNotify)
        #expect(m.method == .notify)
        #expect(m.requestURI?.user == "1234")
        #expect(m.requestURI?.host == "pbx.example.com")
        #expect(m.headers.count == 11)
        #expect(m.callID == "a84b4c76e66710@mwid.example.com")
        #expect(try m.cseq() == SIPCSeq(314159, .notify))
        #expect(try m.event()?.package == "message-summary")
        #expect(try m.subscriptionState()?.state == .terminated)
        #expect(try m.subscriptionState()?.reason == "noresource")
        #expect(try m.contentType()?.matches(.simpleMessageSummary) == true)
        #expect(m.body.count == 92)
        let summary = try MessageSummary(parsing: m.body)
        #expect(summary.messagesWaiting)
        #expect(summary[.voice] == .init(new: 2, old: 8, urgentNew: 1, urgentOld: 0))
    }

    @Test func headersKeepOrderAndOriginalNames() throws {
        let m = try parse("""
        OPTIONS sip:host SIP/2.0
        v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
        X-Custom-Thing: Hello World
        f: <sip:a@example.com>;tag=1
        t: <sip:b@example.com>
        i: abc
        CSEQ: 1 OPTIONS
        l: 0

        """)
        #expect(m.headers[0].name == "v")
        #expect(m.headers[1] == ("X-Custom-Thing", "Hello World"))
        #expect(m.headers.first(.via)?.hasPrefix("SIP/2.0/UDP") == true)
        #expect(m.headers.first("VIA") != nil)
        #expect(m.headers.first("x-custom-thing") == "Hello World")
        #expect(m.headers.first(.cseq) == "1 OPTIONS")
        #expect(m.callID == "abc")
        #expect(m.headers.name(at: 0).canonicalName == "Via")
    }

    @Test(arguments: [
        ("i", "Call-ID"), ("m", "Contact"), ("e", "Content-Encoding"), ("l", "Content-Length"),
        ("c", "Content-Type"), ("f", "From"), ("s", "Subject"), ("k", "Supported"), ("t", "To"),
        ("v", "Via"), ("o", "Event"), ("u", "Allow-Events"), ("r", "Refer-To"), ("b", "Referred-By"),
        ("x", "Session-Expires"), ("y", "Identity"), ("a", "Accept-Contact"), ("j", "Reject-Contact"),
        ("d", "Request-Disposition"), ("n", "Identity-Info"),
    ])
    func compactFormsResolve(compact: String, full: String) {
        #expect(SIPHeaderName(compact) == SIPHeaderName(full))
        #expect(SIPHeaderName(compact.uppercased()).canonicalName == full)
        #expect(SIPHeaderName(full.lowercased()).compactForm == Character(compact))
    }

    @Test func unknownHeaderNamesCompareCaseInsensitively() {
        #expect(SIPHeaderName("X-Foo") == SIPHeaderName("x-FOO"))
        #expect(SIPHeaderName("X-Foo") != SIPHeaderName("X-Bar"))
        #expect(SIPHeaderName("X-Foo") != SIPHeaderName.via)
        #expect(SIPHeaderName("x-foo").canonicalName == "x-foo")
    }

    @Test func unfoldsContinuationLines() throws {
        let m = try parse("""
        OPTIONS sip:host SIP/2.0
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
        Subject: first part
           second part\t
        \tthird part
        From: <sip:a@example.com>;tag=1
        To:
         <sip:b@example.com>
        Call-ID: abc
        CSeq: 1 OPTIONS

        """)
        #expect(m.headers.first(.subject) == "first part second part third part")
        #expect(try m.to()?.uri.user == "b")
    }

    @Test func skipsLeadingKeepAlives() throws {
        let m = try SIPParser.parse("\r\n\r\n\n" + sampleNotify)
        #expect(m.method == .notify)
    }

    @Test func acceptsBareLineFeeds() throws {
        let text = sampleNotify.split(separator: "\r\n", omittingEmptySubsequences: false).joined(separator: "\n")
        var bytes = Array(text.utf8)
        // The body shrinks by one byte per line: fix Content-Length to the real body.
        let m0 = try? SIPParser.parseDatagram(bytes)
        #expect(m0 == nil, "Content-Length 92 exceeds the LF-only body")
        bytes = Array(text.replacingFirst("Content-Length: 92", with: "Content-Length: 89").utf8)
        let m = try SIPParser.parseDatagram(bytes)
        #expect(m.body.count == 89)
        #expect(try MessageSummary(parsing: m.body)[.voice]?.old == 8)
    }

    @Test func datagramWithoutContentLengthTakesTheRest() throws {
        let m = try parse("""
        MESSAGE sip:host SIP/2.0
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
        From: <sip:a@example.com>;tag=1
        To: <sip:b@example.com>
        Call-ID: abc
        CSeq: 1 MESSAGE

        hello\u{0}world
        """)
        #expect(Array(m.body) == Array("hello\u{0}world".utf8))
    }

    @Test func datagramWithShorterContentLengthIsTruncated() throws {
        let m = try parse("""
        MESSAGE sip:host SIP/2.0
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
        From: <sip:a@example.com>;tag=1
        To: <sip:b@example.com>
        Call-ID: abc
        CSeq: 1 MESSAGE
        Content-Length:    5

        hello and trailing garbage
        """)
        #expect(m.bodyText == "hello")
    }

    @Test func contentLengthLargerThanDatagramIsAnError() {
        let e = parseError("""
        MESSAGE sip:host SIP/2.0
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
        From: <sip:a@example.com>;tag=1
        To: <sip:b@example.com>
        Call-ID: abc
        CSeq: 1 MESSAGE
        Content-Length: 50

        short
        """)
        #expect(e?.kind == .contentLengthExceedsMessage)
        #expect(e?.canRespond == true)
        #expect(e?.statusCode == 400)
        #expect(e?.headers?.first(.callID) == "abc")
    }

    /// Found by the fuzzer: a datagram with as many fields as the limit and no
    /// Content-Length was accepted, and written out (with the Content-Length every written
    /// message carries) it was one field over the limit and refused. Now the limit leaves
    /// room for it.
    @Test func aDatagramLeavesRoomUnderTheFieldLimitForItsContentLength() throws {
        let limits = SIPParser.Limits(maxHeaderCount: 8)
        let base = "MESSAGE sip:host SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: abc\r\nCSeq: 1 MESSAGE\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n"
        // Eight fields, no Content-Length: refused (and dropped, as any message over the limit).
        do {
            _ = try SIPParser.parseDatagram(Array((base + "\r\nhello").utf8), limits: limits)
            Issue.record("eight fields without Content-Length accepted")
        } catch {
            #expect(error.kind == .tooManyHeaders)
            #expect(!error.canRespond)
        }
        // Seven fields: accepted, and its written form (eight with Content-Length) too.
        let seven = base.replacingFirst("X-B: 2\r\n", with: "")
        let m = try SIPParser.parseDatagram(Array((seven + "\r\nhello").utf8), limits: limits)
        #expect(try SIPParser.parseDatagram(m.serialize(), limits: limits) == m)
        // Eight fields of which one is the Content-Length: accepted, written the same.
        let withLength = try SIPParser.parseDatagram(Array((base.replacingFirst("X-B: 2", with: "Content-Length: 5") + "\r\nhello").utf8), limits: limits)
        #expect(try SIPParser.parseDatagram(withLength.serialize(), limits: limits) == withLength)
    }

    @Test func leadingZerosAreAccepted() throws {
        let m = try parse("""
        NOTIFY sip:host:05060 SIP/2.0
        Via: SIP/2.0/UDP a.example.com:0005060;branch=z9hG4bK1
        From: <sip:a@example.com>;tag=1
        To: <sip:b@example.com>
        Call-ID: abc
        CSeq: 0000000000000000001 NOTIFY
        Max-Forwards: 0070
        Expires: 0003600
        Content-Length: 0000

        """)
        #expect(m.requestURI?.port == 5060)
        #expect(try m.topVia()?.port == 5060)
        #expect(try m.cseq()?.sequence == 1)
        #expect(try m.maxForwards() == 70)
        #expect(try m.expires() == 3600)
    }

    @Test func responseParses() throws {
        let m = try parse("""
        SIP/2.0 480 Temporarily Unavailable
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;received=192.0.2.4;rport=5070
        From: <sip:a@example.com>;tag=1
        To: <sip:b@example.com>;tag=2
        Call-ID: abc
        CSeq: 7 NOTIFY
        Retry-After: 30
        Content-Length: 0

        """)
        #expect(m.statusCode == 480)
        #expect(m.reasonPhrase == "Temporarily Unavailable")
        let via = try #require(try m.topVia())
        #expect(via.received == "192.0.2.4")
        #expect(via.rport == 5070)
        #expect(try m.to()?.tag == "2")
    }

    @Test func responseWithEmptyReasonPhrase() throws {
        let withSpace = try parse("SIP/2.0 200 \nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: x\nCSeq: 1 OPTIONS\n\n")
        #expect(withSpace.reasonPhrase == "")
        let without = try parse("SIP/2.0 200\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: x\nCSeq: 1 OPTIONS\n\n")
        #expect(without.statusCode == 200)
    }

    @Test func responseDoesNotNeedACSeqMatchingAnything() throws {
        let m = try parse("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: x\nCSeq: 1 SUBSCRIBE\n\n")
        #expect(try m.cseq()?.method == .subscribe)
    }

    @Test func anythingThatLooksLikeAResponseIsNeverAnswerable() {
        let e = parseError("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nTo: <sip:c@h>\nCall-ID: x\nCSeq: 1 OPTIONS\n\n")
        #expect(e?.kind == .duplicateHeader("To"))
        #expect(e?.canRespond == false)
    }

    @Test func emptyInputIsEmpty() {
        #expect(parseError("", convert: false)?.kind == .empty)
        #expect(parseError("\r\n\r\n", convert: false)?.kind == .empty)
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = range(of: target) else { return self }
        return replacingCharacters(in: r, with: replacement)
    }
}

@Suite struct CharacterClassTests {
    @Test func masksMatchTheGrammar() {
        func expected(_ extra: String) -> (UInt8) -> Bool {
            { c in (c < 128 && (Character(UnicodeScalar(c)).isLetter || Character(UnicodeScalar(c)).isNumber)) || extra.utf8.contains(c) }
        }
        let token = expected("-.!%*_+`'~")
        let word = expected("-.!%*_+`'~()<>:\\\"/[]?{}")
        let unreserved = expected("-_.!~*'()")
        for c in UInt8.min...UInt8.max {
            #expect(ASCII.isTokenChar(c) == token(c), "token \(c)")
            #expect(ASCII.isWordChar(c) == word(c), "word \(c)")
            #expect(ASCII.isUnreserved(c) == unreserved(c), "unreserved \(c)")
        }
    }

    @Test func everyKnownHeaderResolvesInAnyCase() {
        for (i, e) in SIPHeaderName.table.enumerated() {
            for spelling in [e.name, e.name.lowercased(), e.name.uppercased()] {
                let bytes = Array(spelling.utf8)
                let found = bytes.withUnsafeBufferPointer { SIPHeaderName.lookup($0, 0..<$0.count) }
                #expect(found == UInt8(i), "\(spelling)")
            }
        }
        let unknown = Array("X-Not-Known".utf8)
        #expect(unknown.withUnsafeBufferPointer { SIPHeaderName.lookup($0, 0..<$0.count) } == nil)
    }

    @Test func printableScanFlagsControlsAndHighBytes() {
        for c in UInt8.min...UInt8.max {
            var line = Array(repeating: UInt8(ascii: "a"), count: 20)
            line[11] = c
            let scan = line.withUnsafeBufferPointer { SIPParser.scanValue($0, 0..<$0.count) }
            if c >= 0x80 {
                #expect(scan == .highBit)
            } else if c == 9 || (c >= 32 && c != 127) {
                #expect(scan == .ascii, "\(c)")
            } else {
                #expect(scan == .bad, "\(c)")
            }
        }
    }
}
