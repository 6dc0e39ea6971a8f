import Testing
@testable import SIP

@Suite struct StreamParserTests {
    func feed(_ parser: inout SIPStreamParser, _ bytes: [UInt8]) throws(SIPParseError) -> SIPStreamParser.Result {
        let r: Result<SIPStreamParser.Result, SIPParseError> = bytes.withUnsafeBytes { raw in
            do throws(SIPParseError) { return .success(try parser.parse(raw)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    @Test func oneMessageAndTheStartOfTheNext() throws {
        var p = SIPStreamParser()
        let bytes = Array(sampleNotify.utf8) + Array("NOTIFY sip:x SIP/2.0\r\n".utf8)
        guard case .message(let m, let consumed) = try feed(&p, bytes) else {
            Issue.record("expected a message")
            return
        }
        #expect(consumed == sampleNotify.utf8.count)
        #expect(m.method == .notify)
        #expect(try feed(&p, Array(bytes[consumed...])) == .needMoreData(discard: 0))
    }

    @Test func keepAlivesAreReportedForDiscarding() throws {
        var p = SIPStreamParser()
        #expect(try feed(&p, Array("\r\n\r\n".utf8)) == .needMoreData(discard: 4))
        #expect(try feed(&p, Array("\r".utf8)) == .needMoreData(discard: 0))
        guard case .message(_, let consumed) = try feed(&p, Array(("\r\n" + sampleNotify).utf8)) else {
            Issue.record("expected a message")
            return
        }
        #expect(consumed == sampleNotify.utf8.count + 2)
    }

    @Test func waitsForTheWholeBody() throws {
        var p = SIPStreamParser()
        let bytes = Array(sampleNotify.utf8)
        for cut in [10, 300, bytes.count - 1] {
            #expect(try feed(&p, Array(bytes[..<cut])) == .needMoreData(discard: 0))
        }
        guard case .message(let m, _) = try feed(&p, bytes) else {
            Issue.record("expected a message")
            return
        }
        #expect(m.body.count == 92)
    }

    @Test func missingContentLengthIsAnErrorOnStreams() throws {
        var p = SIPStreamParser()
        let text = crlf("OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\n\n")
        #expect(throws: SIPParseError.self) { try feed(&p, Array(text.utf8)) }
        do {
            _ = try feed(&p, Array(text.utf8))
        } catch {
            #expect(error.kind == .missingContentLength)
            #expect(error.canRespond)
        }
    }

    @Test func oversizedHeadIsRefusedBeforeBufferingMore() throws {
        var p = SIPStreamParser(limits: .init(maxMessageSize: 1_024))
        let head = Array("OPTIONS sip:h SIP/2.0\r\nX: ".utf8) + [UInt8](repeating: 65, count: 1_100)
        #expect(throws: SIPParseError.self) { try feed(&p, head) }
    }

    @Test func oversizedBodyIsRefusedFromContentLength() throws {
        var p = SIPStreamParser(limits: .init(maxMessageSize: 1_024))
        let text = crlf("OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\nContent-Length: 5000\n\n")
        do {
            _ = try feed(&p, Array(text.utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .messageTooLarge)
            #expect(error.statusCode == 513)
            #expect(error.canRespond)
        }
    }

    @Test func byteAtATimeTrickleStillFramesTheMessage() throws {
        // One byte at a time through a 60 KB head (the parser resumes its search where it
        // stopped, so this costs linear time; the test proves the framing stays right).
        var p = SIPStreamParser()
        var text = "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
        for i in 0..<200 { text += "X-Pad-\(i): " + String(repeating: "p", count: 250) + "\r\n" }
        text += "Content-Length: 0\r\n\r\n"
        let bytes = Array(text.utf8)
        var result: SIPStreamParser.Result = .needMoreData(discard: 0)
        for n in 1...bytes.count {
            result = try feed(&p, Array(bytes[..<n]))
        }
        guard case .message(let m, let consumed) = result else {
            Issue.record("expected a message")
            return
        }
        #expect(consumed == bytes.count)
        #expect(m.headers.count == 206)
    }

    @Test func datagramLimits() {
        let many = "OPTIONS sip:h SIP/2.0\n" + (0..<300).map { "X-\($0): v\n" }.joined() + "\n"
        #expect(parseError(many)?.kind == .tooManyHeaders)
        let long = "OPTIONS sip:h SIP/2.0\nX: " + String(repeating: "a", count: 9_000) + "\n\n"
        #expect(parseError(long)?.kind == .headerTooLong)
        let folded = "OPTIONS sip:h SIP/2.0\nX: a\n" + String(repeating: " aaaaaaaaa\n", count: 900) + "\n"
        #expect(parseError(folded)?.kind == .headerTooLong)
        let big = crlf("MESSAGE sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 MESSAGE\n\n") + String(repeating: "b", count: 70_000)
        let e = parseError(big, convert: false)
        #expect(e?.kind == .messageTooLarge)
        #expect(e?.canRespond == true)
        #expect(e?.statusCode == 513)
        let custom = SIPParser.Limits(maxMessageSize: 100_000, maxHeaderCount: 5, maxHeaderLineLength: 100)
        #expect(parseError(String(sampleNotify), convert: false, limits: custom)?.kind == .tooManyHeaders)
    }

    @Test func deepNestingIsRefused() throws {
        let deep = String(repeating: "(", count: 40) + String(repeating: ")", count: 40)
        let m = try parse("OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\nX-List: \(deep)\n\n")
        #expect(throws: SIPSyntaxError.self) { try m.headers.listValues("X-List") }
    }
}
