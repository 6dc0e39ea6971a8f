import Testing
@testable import SIP

/// The word-at-a-time pieces of the parser against byte-at-a-time definitions: every
/// position and length, so that a wrong shift, an overlapping load or a carry between
/// bytes shows up.
@Suite struct ScanningTests {
    /// The printable-run scan lands on the first byte that is not printable ASCII, at any
    /// offset, in runs long enough for the two-word, one-word and byte loops.
    @Test func printableRunEndFindsTheFirstOtherByte() {
        let odd: [UInt8] = [0, 9, 10, 13, 31, 127, 128, 0xC3, 0xFF]
        for length in 0...40 {
            for start in 0...min(3, length) {
                for position in start..<(length + 1) {
                    for bad in odd {
                        var bytes = (0..<length).map { UInt8(32 + ($0 * 7) % 95) }
                        if position < length { bytes[position] = bad }
                        let expected = position < length ? position : length
                        let found = bytes.withUnsafeBufferPointer { b in
                            b.baseAddress.map { SIPParser.printableRunEnd($0, from: start, to: length) } ?? 0
                        }
                        if length > 0 { #expect(found == expected, "length \(length) start \(start) byte \(bad) at \(position)") }
                    }
                }
            }
        }
    }

    /// A name that differs from a known one in a single byte, at any position of any
    /// length, is not that header (the comparison reads whole words, overlapping).
    @Test func aKnownNameWithOneByteChangedIsUnknown() {
        for e in SIPHeaderName.table where e.name.utf8.count >= 2 {
            let name = Array(e.name.utf8)
            for k in name.indices {
                var changed = name
                changed[k] = name[k] == UInt8(ascii: "q") ? UInt8(ascii: "z") : UInt8(ascii: "q")
                let found = changed.withUnsafeBufferPointer { SIPHeaderName.lookup($0, 0..<$0.count) }
                let other = found.map { SIPHeaderName.table[Int($0)].name.lowercased() }
                #expect(other == nil || other == String(decoding: changed, as: UTF8.self).lowercased(),
                        "\(String(decoding: changed, as: UTF8.self)) taken for \(other ?? "")")
            }
        }
    }

    /// Numbers up to any limit, the digits consumed even when the number is refused, and
    /// no wrap-around near 2^64.
    @Test(arguments: [
        ("0", UInt64(255), UInt64?(0)),
        ("00070", 255, 70),
        ("255", 255, 255),
        ("256", 255, nil),
        ("99999999999999999999999", 255, nil),
        ("18446744073709551615", UInt64.max, UInt64.max),
        ("18446744073709551616", UInt64.max, nil),
        ("184467440737095516150", UInt64.max, nil),
        ("1844674407370955161", UInt64.max, 1_844_674_407_370_955_161),
        ("2147483647", UInt64(Int32.max), UInt64(Int32.max)),
        ("2147483648", UInt64(Int32.max), nil),
    ])
    func readNumber(text: String, max: UInt64, expected: UInt64?) {
        let bytes = Array((text + " rest").utf8)
        bytes.withUnsafeBufferPointer { b in
            var reader = ByteReader(b)
            #expect(reader.readNumber(max: max) == expected, "\(text) max \(max)")
            #expect(reader.pos == text.utf8.count)
        }
    }

    @Test func noDigitsIsNoNumber() {
        Array("x1".utf8).withUnsafeBufferPointer { b in
            var reader = ByteReader(b)
            #expect(reader.readNumber(max: 10) == nil)
            #expect(reader.pos == 0)
        }
    }

    /// Methods are case-sensitive: the standard ones come back equal to the constants,
    /// anything else as it was written.
    @Test func methodsAreReadExactly() {
        let standard: [SIPMethod] = [.invite, .ack, .bye, .cancel, .options, .register, .subscribe, .notify,
                                     .publish, .info, .refer, .message, .update, .prack]
        for m in standard {
            let bytes = Array(m.rawValue.utf8)
            #expect(bytes.withUnsafeBufferPointer { SIPMethod.named($0, 0..<$0.count) } == m)
            let lower = Array(m.rawValue.lowercased().utf8)
            let read = lower.withUnsafeBufferPointer { SIPMethod.named($0, 0..<$0.count) }
            #expect(read.rawValue == m.rawValue.lowercased())
            #expect(read != m)
        }
        for other in ["FOO", "NOTIFZ", "SUBSCRIBED", "X"] {
            let bytes = Array(other.utf8)
            #expect(bytes.withUnsafeBufferPointer { SIPMethod.named($0, 0..<$0.count) }.rawValue == other)
        }
    }

    /// "SIP/" in any case starts a status line; nothing else does.
    @Test(arguments: [
        ("SIP/2.0 200 OK", true), ("sip/2.0 200 OK", true), ("Sip/2.0 200 OK", true),
        ("SIP:2.0 200 OK", false), ("SIQ/2.0 200 OK", false), ("SIP", false), ("NOTIFY sip:a@b SIP/2.0", false),
        ("3IP/", false), ("S)P/", false),
    ])
    func statusLinesAreToldFromRequests(text: String, isStatus: Bool) {
        #expect(Array(text.utf8).withUnsafeBufferPointer { SIPParser.startsWithSIPVersion($0, 0) } == isStatus)
    }
}

/// A parsed request keeps its Request-URI as checked bytes and builds the `SIPURI` when
/// asked: what it builds is what parsing the URI alone gives, and a bad URI is still
/// refused when the message is parsed.
@Suite struct RequestURITests {
    static let uris = [
        "sip:1234@mwid.example.com",
        "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=project%20x&priority=urgent",
        "sip:%61lice@atlanta.com;maddr=239.255.255.1;user=phone",
        "tel:+12015550123;ext=42",
        "urn:service:sos",
        "SIP:ALICE@AtLanTa.CoM;Transport=udp",
    ]

    @Test(arguments: uris)
    func theURIIsBuiltWhenAskedFor(uri: String) throws {
        let m = try SIPParser.parse("OPTIONS \(uri) SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
        let expected = try SIPURI(parsing: uri)
        #expect(m.requestURI == expected)
        #expect(m.startLine == .request(method: .options, uri: expected))
        #expect(m.method == .options)
        #expect(m.isRequest && m.statusCode == nil && m.reasonPhrase == nil)
        // The same message built by hand is equal, and serializing and reading it again
        // gives it back.
        let reparsed = try SIPParser.parseDatagram(m.serialize())
        #expect(reparsed == m)
        #expect(reparsed.requestURI == expected)
    }

    @Test func aParsedRequestIsWrittenWithItsURIAsItCame() throws {
        let m = try SIPParser.parse("OPTIONS SIP:ALICE@AtLanTa.CoM;Transport=udp SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
        let text = String(decoding: m.serialize(), as: UTF8.self)
        #expect(text.hasPrefix("OPTIONS SIP:ALICE@AtLanTa.CoM;Transport=udp SIP/2.0\r\n"))
        // A start line given by hand is written canonically.
        var built = m
        built.startLine = .request(method: .options, uri: try SIPURI(parsing: "SIP:ALICE@AtLanTa.CoM;Transport=udp"))
        #expect(String(decoding: built.serialize(), as: UTF8.self).hasPrefix("OPTIONS sip:ALICE@AtLanTa.CoM;Transport=udp SIP/2.0\r\n"))
    }

    @Test func replacingTheHeadersKeepsTheURI() throws {
        var m = try SIPParser.parse("OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
        m.headers = SIPHeaders()
        #expect(m.requestURI?.user == "x")
        #expect(m.requestURI?.host == "example.com")
    }

    @Test func settingTheStartLineReplacesTheParsedOne() throws {
        var m = try SIPParser.parse("OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
        m.startLine = .response(statusCode: 486, reasonPhrase: "Busy Here")
        #expect(!m.isRequest && m.statusCode == 486 && m.method == nil && m.requestURI == nil)
    }

    @Test(arguments: ["sip:", "sip:@host", "sip:user@", "sip:user@host:99999", "sip:us er@host", "sip:a@[::1", "sip:a@host;=x"])
    func aBadURIIsRefusedWhenTheMessageIsParsed(uri: String) {
        #expect(throws: SIPParseError.self) {
            try SIPParser.parse("OPTIONS \(uri) SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
        }
    }
}

/// The one-pass readings that run before the full grammar: whatever they accept, the
/// full grammar accepts too, and what they do not take is left to it.
@Suite struct FastPathTests {
    @Test(arguments: ["sip:1234@mwid.example.com", "SIP:alice@Example.COM:5060", "sip:+4930123@192.0.2.4:05060",
                      "sip:a;b?c/d&e=f+g$h,i@host_name"])
    func plainRequestURIsTakeTheFastPath(uri: String) throws {
        let bytes = Array(uri.utf8)
        #expect(bytes.withUnsafeBufferPointer { SIPURI.isPlainSIPURI($0, 0..<$0.count) })
        #expect(throws: Never.self) { try SIPURI(parsing: uri) }
    }

    @Test(arguments: ["sip:host.example.com", "sip:a:pw@host", "sip:%61lice@host", "sip:a@[::1]", "sip:a@host;lr",
                      "sips:a@host", "sip:a@host:65536", "sip:a@host:", "sip:a@-host", "sip:a@host..com", "sip:@host"])
    func otherURIsGoToTheFullGrammar(uri: String) {
        let bytes = Array(uri.utf8)
        #expect(!bytes.withUnsafeBufferPointer { SIPURI.isPlainSIPURI($0, 0..<$0.count) })
    }

    /// Random URIs over the characters that matter: the fast path never accepts one that
    /// the full grammar refuses.
    @Test func theFastPathAcceptsNothingTheGrammarRefuses() {
        let alphabet = Array("sSiIpP:@.-_%;?=&[]019aZ/+$, ".utf8)
        var rng = SplitMix64(seed: 7)
        var accepted = 0
        for _ in 0..<50_000 {
            var uri = Array("sip:".utf8)
            if rng.next() % 4 == 0 { uri = [] }
            for _ in 0..<Int(rng.next() % 24) { uri.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
            let fast = uri.withUnsafeBufferPointer { SIPURI.isPlainSIPURI($0, 0..<$0.count) }
            guard fast else { continue }
            accepted += 1
            let full = uri.withUnsafeBufferPointer { b in (try? SIPURI.parse(b, 0..<b.count, allowParametersAndHeaders: true)) != nil }
            #expect(full, "\(String(decoding: uri, as: UTF8.self))")
        }
        #expect(accepted > 100)
    }

    /// The sent-protocol in any case and with LWS around the slashes; anything else is refused.
    @Test(arguments: [
        ("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1", true), ("sip/2.0/udp h;branch=z9hG4bK1", true),
        ("Sip/2.0/Tls h", true), ("SIP / 2.0 / TCP h", true), ("SIP/2.0/ UDP h", true),
        ("SIP/2.0/", false), ("SIP/2.0/ ", false), ("SIP/2.1/UDP h", false), ("SIP/2.0/UDP", false),
        ("SIP/2.0UDP h", false), ("SIQ/2.0/UDP h", false),
    ])
    func viaSentProtocol(text: String, valid: Bool) {
        let bytes = Array(text.utf8)
        let ok = bytes.withUnsafeBufferPointer { b in (try? SIPVia.check(b, 0..<b.count, firstOfList: true)) != nil }
        #expect(ok == valid, "\(text)")
    }
}

