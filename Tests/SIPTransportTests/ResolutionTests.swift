import Foundation
import NIOCore
import SIP
@testable import SIPTransport
import TestSupport
import Testing

/// RFC 3263 resolution of peers named by host name: the DNS answer reader and the SRV
/// order (pure), then the endpoint against a real DNS server (dnsmasq on loopback).
@Suite(.serialized) struct ResolutionTests {
    // MARK: - The answer reader

    /// A DNS response: header, one question, then the records given (already encoded).
    static func response(question: [UInt8], records: [[UInt8]]) -> [UInt8] {
        [0x12, 0x34, 0x81, 0x80, 0, 1, 0, UInt8(records.count), 0, 0, 0, 0] + question + [0, 33, 0, 1] + records.flatMap { $0 }
    }

    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    static func record(name: [UInt8], type: UInt16, ttl: UInt32, data: [UInt8]) -> [UInt8] {
        name + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
            + [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF)]
            + [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
    }

    @Test func srvAndAddressRecordsAreReadThroughCompressedNames() throws {
        let question = Self.name("_sip._udp.PBX.example.com")
        // Names after the question point back into it: 0xC0 0x0C is the question's name,
        // 0xC0 0x16 its "pbx.example.com" (12 + 10 bytes in).
        let srv = Self.record(name: [0xC0, 0x0C], type: 33, ttl: 300, data: [0, 10, 0, 60, 0x13, 0xC4] + [3] + Array("gw1".utf8) + [0xC0, 0x16])
        let a = Self.record(name: [3] + Array("gw1".utf8) + [0xC0, 0x16], type: 1, ttl: 60, data: [192, 0, 2, 7])
        let aaaa = Self.record(name: Self.name("gw1.pbx.example.com"), type: 28, ttl: 90, data: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])
        let cname = Self.record(name: [0xC0, 0x0C], type: 5, ttl: 10, data: [0xC0, 0x16])  // skipped
        let answer = try DNSAnswer(parsing: Self.response(question: question, records: [srv, cname, a, aaaa]))
        #expect(answer.entries == [
            .init(name: "_sip._udp.pbx.example.com", ttl: 300, record: .srv(SRVRecord(priority: 10, weight: 60, port: 5060, target: "gw1.pbx.example.com"))),
            .init(name: "gw1.pbx.example.com", ttl: 60, record: .a([192, 0, 2, 7])),
            .init(name: "gw1.pbx.example.com", ttl: 90, record: .aaaa([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])),
        ])
        #expect(answer.ttl == 60, "the CNAME is not kept: the smallest TTL kept is 60")
        #expect(PeerResolver.ipv6Text([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]) == "2001:db8:0:0:0:0:0:1")
    }

    @Test func malformedAnswersAreRefusedWithoutTrapping() throws {
        let question = Self.name("_sip._udp.example.com")
        let good = Self.response(question: question, records: [Self.record(name: [0xC0, 0x0C], type: 1, ttl: 5, data: [127, 0, 0, 1])])
        // Every truncation is an error, never a trap.
        for length in 0..<good.count {
            #expect(throws: DNSAnswer.ParseError.self) { _ = try DNSAnswer(parsing: Array(good[..<length])) }
        }
        #expect(try DNSAnswer(parsing: good).entries.count == 1)
        // A name that points at itself.
        let loop = Self.response(question: question, records: [Self.record(name: [0xC0, 0x27], type: 1, ttl: 5, data: [127, 0, 0, 1])])
        #expect(throws: DNSAnswer.ParseError(description: "name compression loops")) { _ = try DNSAnswer(parsing: loop) }
        // An A record of 5 bytes; an SRV record whose target runs past its length.
        let longA = Self.response(question: question, records: [Self.record(name: [0xC0, 0x0C], type: 1, ttl: 5, data: [1, 2, 3, 4, 5])])
        #expect(throws: DNSAnswer.ParseError.self) { _ = try DNSAnswer(parsing: longA) }
        let badSRV = Self.response(question: question, records: [Self.record(name: [0xC0, 0x0C], type: 33, ttl: 5, data: [0, 1, 0, 1, 0, 1, 3, 65, 0])])
        #expect(throws: DNSAnswer.ParseError.self) { _ = try DNSAnswer(parsing: badSRV) }
        // Random bytes.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? DNSAnswer(parsing: bytes)
        }
    }

    @Test func srvTargetsAreOrderedByPriorityThenDrawnByWeight() {
        let records = [
            SRVRecord(priority: 20, weight: 0, port: 1, target: "backup"),
            SRVRecord(priority: 10, weight: 30, port: 2, target: "b"),
            SRVRecord(priority: 10, weight: 0, port: 3, target: "zero"),
            SRVRecord(priority: 10, weight: 70, port: 4, target: "a"),
        ]
        // A draw of 0 takes the weight-0 record first (RFC 2782), then the first of the rest.
        #expect(PeerResolver.order(records, random: { _ in 0 }).map(\.target) == ["zero", "b", "a", "backup"])
        // Draws at the top of each sum take the last record each time.
        #expect(PeerResolver.order(records, random: { $0 }).map(\.target) == ["a", "b", "zero", "backup"])
        // Over many real draws, the weight-70 record comes first about 70 % of the time.
        var firstA = 0
        for _ in 0..<4_000 where PeerResolver.order(records, random: { UInt64.random(in: 0...$0) }).first?.target == "a" { firstA += 1 }
        #expect((2_500...3_100).contains(firstA), "a first \(firstA) times of 4000")
        #expect(PeerResolver.serviceName("pbx.example.com", transport: .tls) == "_sips._tcp.pbx.example.com")
        #expect(PeerResolver.serviceName("pbx.example.com", transport: .udp) == "_sip._udp.pbx.example.com")
    }

    // MARK: - Against dnsmasq

    static func endpoint(dns: Int) async throws -> SIPEndpoint {
        // T1 4 s: a retransmission or a timeout would show in the durations checked.
        try await InteropTests.endpoint {
            $0.dnsServer = "127.0.0.1:\(dns)"
            $0.dnsQueryTimeout = .seconds(1)
            $0.timers = SIPTimers(t1: .seconds(4), timeout: .seconds(8))
        }
    }

    @Test func aNameWithoutAPortIsFoundThroughSRVAndTheNextTargetTakesOverAtOnce() async throws {
        let dir = try Peers.workDirectory("dns-srv")
        let closed = try await Peers.freePort(udp: true)  // the first target: nothing listens
        let port = try await Peers.freePortBoth()
        let uas = try Peers.sipp("uas_notify.xml", port: port, transport: "u1", calls: 1, in: dir)
        defer { uas.stop() }
        let dnsPort = try await Peers.freePortBoth()
        let dns = try Peers.dnsmasq(port: dnsPort, domain: "mwid.test", records: [
            "srv-host=_sip._udp.pbx.mwid.test,down.mwid.test,\(closed),10,0",
            "srv-host=_sip._udp.pbx.mwid.test,up.mwid.test,\(port),20,0",
            "srv-host=_sip._tcp.pbx.mwid.test",  // no target: no SIP over TCP there
            "host-record=down.mwid.test,127.0.0.1",
            "host-record=up.mwid.test,127.0.0.1",
        ], ttl: 60, in: dir)
        defer { dns.stop() }
        try await Peers.waitUntilListening(port: port, udp: true)
        try await Peers.waitUntilListening(port: dnsPort, udp: true)
        let endpoint = try await Self.endpoint(dns: dnsPort)
        defer { Task { await endpoint.shutdown() } }

        let start = ContinuousClock.now
        let response = try await endpoint.send(await InteropTests.notify(to: port, transport: .udp, from: endpoint),
                                               to: SIPPeer(host: "pbx.mwid.test", transport: .udp))
        #expect(response.statusCode == 200)
        #expect(ContinuousClock.now - start < .seconds(3), "the refused first target must not cost a timer (T1 is 4 s)")
        #expect(await uas.waitForExit() == 0, "\(uas.log)")
        #expect(dns.log.contains("query[SRV] _sip._udp.pbx.mwid.test"), "\(dns.log)")

        await #expect(throws: SIPTransportError.resolutionFailed("pbx.mwid.test: its SRV record says there is no SIP service over tcp")) {
            _ = try await endpoint.send(await InteropTests.notify(to: port, transport: .tcp, from: endpoint),
                                        to: SIPPeer(host: "pbx.mwid.test", transport: .tcp))
        }
    }

    @Test func aNamesAddressIsKeptForItsRecordsTTLThenAskedAgain() async throws {
        let dir = try Peers.workDirectory("dns-ttl")
        let port = try await Peers.freePortBoth()
        let uas = try Peers.sipp("uas_notify.xml", port: port, transport: "u1", calls: 60, in: dir)
        defer { uas.stop(signal: "KILL") }  // calls left: SIPp would sit out stop's grace
        let dnsPort = try await Peers.freePortBoth()
        var dns = try Peers.dnsmasq(port: dnsPort, domain: "mwid.test", records: ["host-record=gw.mwid.test,127.0.0.1"], ttl: 5, in: dir)
        defer { dns.stop() }
        try await Peers.waitUntilListening(port: port, udp: true)
        try await Peers.waitUntilListening(port: dnsPort, udp: true)
        let endpoint = try await Self.endpoint(dns: dnsPort)
        defer { Task { await endpoint.shutdown() } }
        let peer = SIPPeer(host: "gw.mwid.test", port: port, transport: .udp)

        let resolvedAt = ContinuousClock.now
        #expect(try await endpoint.send(await InteropTests.notify(to: port, transport: .udp, from: endpoint), to: peer).statusCode == 200)
        // The name now points where nothing listens (127.0.0.2 is loopback too).
        dns.stop()
        dns = try Peers.dnsmasq(port: dnsPort, domain: "mwid.test", records: ["host-record=gw.mwid.test,127.0.0.2"], ttl: 5, in: dir)
        try await Peers.waitUntilListening(port: dnsPort, udp: true)
        // Within its TTL the first answer is used. (On a machine so loaded that the test
        // got here after the TTL, there is nothing to check: the new address is right then.)
        if ContinuousClock.now - resolvedAt < .milliseconds(4_000) {
            #expect(try await endpoint.send(await InteropTests.notify(to: port, transport: .udp, from: endpoint), to: peer).statusCode == 200,
                    "within its TTL the first answer is used")
        }
        // Once the TTL has run out, the new address is used: refused at once (ICMP).
        var refusedAt: ContinuousClock.Instant?
        while refusedAt == nil, ContinuousClock.now - resolvedAt < .seconds(12) {
            do {
                _ = try await endpoint.send(await InteropTests.notify(to: port, transport: .udp, from: endpoint), to: peer)
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                guard case .connectionRefused(let why) = error as? SIPTransportError else {
                    Issue.record("expected a refusal, got \(error)")
                    break
                }
                #expect(why.contains("127.0.0.2") && why.contains("port unreachable"), "\(why)")
                refusedAt = .now
            }
        }
        let refused = try #require(refusedAt, "the new address was never used")
        #expect(refused - resolvedAt >= .milliseconds(4_500), "the answer was dropped before its TTL of 5 s")
        #expect(dns.log.contains("query[A] gw.mwid.test"), "\(dns.log)")
    }

    @Test func aNameDNSDoesNotKnowIsLookedUpLikeAnyOtherProgramWould() async throws {
        // dnsmasq refuses names outside its domain: "localhost" comes from /etc/hosts.
        let dir = try Peers.workDirectory("dns-hosts")
        let port = try await Peers.freePortBoth()
        let uas = try Peers.sipp("uas_notify.xml", port: port, transport: "u1", calls: 1, in: dir)
        defer { uas.stop() }
        let dnsPort = try await Peers.freePortBoth()
        let dns = try Peers.dnsmasq(port: dnsPort, domain: "mwid.test", records: [], ttl: 60, in: dir)
        defer { dns.stop() }
        try await Peers.waitUntilListening(port: port, udp: true)
        try await Peers.waitUntilListening(port: dnsPort, udp: true, process: dns)
        let endpoint = try await Self.endpoint(dns: dnsPort)
        defer { Task { await endpoint.shutdown() } }
        let response = try await endpoint.send(await InteropTests.notify(to: port, transport: .udp, from: endpoint),
                                               to: SIPPeer(host: "localhost", port: port, transport: .udp))
        #expect(response.statusCode == 200)
        #expect(await uas.waitForExit() == 0, "\(uas.log)")
    }

    @Test func aDNSServerThatIsNotIPv4AndPortIsRefusedAtStart() async throws {
        let endpoint = SIPEndpoint(configuration: SIPEndpointConfiguration(udp: ["127.0.0.1:0"], tcp: [], dnsServer: "dns.example.com"),
                                   router: SIPRequestRouter())
        await #expect {
            try await endpoint.start()
        } throws: { error in
            "\(error)" == "DNS server 'dns.example.com' is not IPv4:PORT"
        }
        await endpoint.shutdown()
    }
}
