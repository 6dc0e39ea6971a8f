import Testing
@testable import SIP

/// Generates random but well-formed messages from a seeded generator.
struct MessageGenerator {
    var rng: SplitMix64

    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
    mutating func bool() -> Bool { Bool.random(using: &rng) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }

    mutating func string(_ alphabet: [UInt8], _ length: ClosedRange<Int>) -> String {
        String(decoding: (0..<int(length)).map { _ in pick(alphabet) }, as: UTF8.self)
    }

    static let alnum = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
    static let tokenChars = alnum + Array("-.!%*_+`'~".utf8)
    static let userChars = alnum + Array("-_.!~*'()&=+$,;?/ @:%#\"<>".utf8)

    mutating func token() -> String { string(Self.tokenChars, 1...12) }

    mutating func host() -> String {
        switch int(0...2) {
        case 0: return "\(int(1...254)).\(int(0...255)).\(int(0...255)).\(int(1...254))"
        case 1: return "[2001:db8::\(String(int(1...0xffff), radix: 16))]"
        default: return (0..<int(1...4)).map { _ in string(Self.alnum, 1...10) }.joined(separator: ".")
        }
    }

    mutating func uri() -> SIPURI {
        if int(0...9) == 0 {
            return .tel("+" + string(Array("0123456789".utf8), 4...15))
        }
        var u = SIPURI(scheme: bool() ? .sip : .sips, host: host())
        if bool() { u.user = string(Self.userChars, 1...16) }
        if u.user != nil, int(0...5) == 0 { u.password = string(Self.alnum, 1...8) }
        if bool() { u.port = UInt16(int(1...65535)) }
        for _ in 0..<int(0...3) {
            u.parameters.set(string(Self.alnum, 1...8), bool() ? string(Self.alnum, 1...8) : nil)
        }
        if int(0...5) == 0 { u.headers = [.init(name: string(Self.alnum, 1...6), value: string(Self.alnum, 0...6))] }
        return u
    }

    mutating func nameAddress(tag: Bool) -> SIPNameAddress {
        var na = SIPNameAddress(uri: uri())
        if bool() { na.displayName = string(Self.alnum + Array(" \"\\,;<>é".utf8), 1...12).trimmingSpaces() }
        if na.displayName == "" { na.displayName = nil }
        if tag { na.tag = token() }
        return na
    }

    /// A header value: printable text, no leading or trailing whitespace.
    mutating func value() -> String {
        let alphabet = Array(" abcdefghijklmnopqrstuvwxyz0123456789;=,<>\"\\:@/[]()".utf8)
        var v = string(alphabet, 0...40).trimmingSpaces()
        if bool() { v += "ünïcødé" }
        return v
    }

    mutating func message() -> SIPMessage {
        let method = pick([SIPMethod.notify, .subscribe, .options, .register, .publish, SIPMethod(token())])
        let via = SIPVia(transport: pick(["UDP", "TCP", "TLS"]), host: host(), port: bool() ? UInt16(int(1...65535)) : nil,
                         branch: SIPIdentifiers.branch(using: &rng))
        var body: [UInt8] = []
        if bool() { body = (0..<int(0...300)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        var m = SIPMessage.request(
            method: method, uri: uri(), via: via, from: nameAddress(tag: true), to: nameAddress(tag: bool()),
            callID: token() + "@" + host(), cseq: UInt32(int(0...Int(Int32.max))), maxForwards: int(0...255),
            headers: (0..<int(0...8)).map { _ in (SIPHeaderName(pick(["X-" + token(), "Subject", "s", "User-Agent", "x-" + token()])), value()) },
            body: body)
        if bool() {
            m = m.makeResponse(statusCode: int(100...699), reasonPhrase: value(), toTag: bool() ? token() : nil)
            m.body = body[...]
        }
        return m
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

@Suite struct PropertyTests {
    static let seeds: [UInt64] = Array(1...8)

    @Test(arguments: seeds)
    func parseOfSerializeIsIdentity(seed: UInt64) throws {
        var g = MessageGenerator(rng: SplitMix64(seed: seed))
        for _ in 0..<250 {
            let m = g.message()
            let bytes = m.serialize()
            let parsed: SIPMessage
            do {
                parsed = try SIPParser.parseDatagram(bytes)
            } catch {
                Issue.record("failed to parse generated message: \(error.reason)\n\(m.text)")
                return
            }
            #expect(parsed == m, "\(m.text)")
            #expect(parsed.serialize() == bytes)
            // Typed values survive as well.
            #expect(try parsed.from() == (try m.from()))
            #expect(try parsed.to() == (try m.to()))
            #expect(try parsed.vias() == (try m.vias()))
            #expect(parsed.requestURI == m.requestURI)
        }
    }

    @Test(arguments: seeds)
    func streamFramingSplitsConcatenatedMessagesAtAnyChunking(seed: UInt64) throws {
        var g = MessageGenerator(rng: SplitMix64(seed: seed &+ 100))
        let messages = (0..<20).map { _ in g.message() }
        var wire: [UInt8] = []
        for m in messages {
            if g.bool() { wire += Array("\r\n\r\n".utf8) }  // keep-alives between messages
            wire += m.serialize()
        }
        var parser = SIPStreamParser()
        var buffer: [UInt8] = []
        var out: [SIPMessage] = []
        var offset = 0
        while offset < wire.count {
            let n = min(g.int(1...700), wire.count - offset)
            buffer += wire[offset..<(offset + n)]
            offset += n
            while true {
                let result = try buffer.withUnsafeBytes { try parser.parse($0) }
                switch result {
                case .needMoreData(let discard):
                    buffer.removeFirst(discard)
                case .message(let m, let consumed):
                    out.append(m)
                    buffer.removeFirst(consumed)
                    continue
                }
                break
            }
        }
        #expect(out == messages)
        #expect(buffer.isEmpty)
    }

    /// Mutated and random inputs: the parser returns or throws, never traps, never hangs;
    /// anything it accepts re-serializes into something it accepts again, equal.
    @Test(arguments: seeds)
    func mutatedInputNeverTraps(seed: UInt64) {
        var g = MessageGenerator(rng: SplitMix64(seed: seed &+ 1_000))
        let specials = Array("\r\n \t:;,<>\"\\%@[]/=?&0-".utf8)
        var accepted = 0
        for i in 0..<1_500 {
            var bytes = i % 10 == 0
                ? (0..<g.int(0...200)).map { _ in UInt8.random(in: 0...255, using: &g.rng) }
                : g.message().serialize()
            for _ in 0..<g.int(1...6) where !bytes.isEmpty {
                let at = g.int(0...(bytes.count - 1))
                switch g.int(0...5) {
                case 0: bytes[at] = g.pick(specials)
                case 1: bytes[at] = UInt8.random(in: 0...255, using: &g.rng)
                case 2: bytes.insert(contentsOf: (0..<g.int(1...8)).map { _ in g.pick(specials) }, at: at)
                case 3: bytes.removeSubrange(at..<min(bytes.count, at + g.int(1...20)))
                case 4: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + g.int(1...40))], at: at)
                default: bytes.removeSubrange(at...)
                }
            }
            if let m = try? SIPParser.parseDatagram(bytes) {
                accepted += 1
                exerciseAccessors(m)
                let again = try? SIPParser.parseDatagram(m.serialize())
                #expect(again == m, "re-parse of an accepted message differs")
            }
            var stream = SIPStreamParser()
            _ = try? bytes.withUnsafeBytes { try stream.parse($0) }
        }
        #expect(accepted > 0)
    }

    private func exerciseAccessors(_ m: SIPMessage) {
        _ = try? m.vias()
        _ = try? m.from()
        _ = try? m.to()
        _ = try? m.cseq()
        _ = try? m.contacts()
        _ = try? m.routes()
        _ = try? m.recordRoutes()
        _ = try? m.maxForwards()
        _ = try? m.expires()
        _ = try? m.minExpires()
        _ = try? m.event()
        _ = try? m.subscriptionState()
        _ = try? m.contentType()
        _ = try? m.allow()
        _ = try? m.accept()
        for h in (try? m.wwwAuthenticate()) ?? [] { _ = try? DigestChallenge(h) }
        for h in (try? m.authorization()) ?? [] { _ = try? DigestCredentials(h) }
        _ = try? MessageSummary(parsing: m.body)
    }
}
