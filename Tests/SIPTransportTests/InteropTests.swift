import TestSupport
import Foundation
import NIOCore
import NIOPosix
import SIP
@testable import SIPTransport
import Testing

/// mwid's SIP endpoint against real peers over loopback: SIPp (and stunnel for TLS,
/// since Debian's SIPp has none).
@Suite(.serialized) struct InteropTests {
    static let fastTimers = SIPTimers(t1: .milliseconds(50), t2: .milliseconds(400), t4: .milliseconds(200))

    /// An endpoint on free loopback ports with short timers.
    static func endpoint(tls pki: TestPKI? = nil, router: SIPRequestRouter = SIPRequestRouter(),
                         configure: (inout SIPEndpointConfiguration) -> Void = { _ in }) async throws -> SIPEndpoint {
        var config = SIPEndpointConfiguration(
            udp: ["127.0.0.1:0"], tcp: ["127.0.0.1:0"], tls: pki == nil ? [] : ["127.0.0.1:0"],
            tlsConfiguration: pki.map { SIPTLSConfiguration(certificateChainFile: $0.certificateFile, privateKeyFile: $0.keyFile, trustRootsFile: $0.caFile) },
            timers: fastTimers, idleTimeout: .seconds(5), messageTimeout: .milliseconds(300), connectTimeout: .seconds(2))
        configure(&config)
        let endpoint = SIPEndpoint(configuration: config, router: router)
        try await endpoint.start()
        return endpoint
    }

    static func notify(to port: Int, transport: SIPTransportKind, from endpoint: SIPEndpoint) async -> SIPMessage {
        let (host, localPort) = await endpoint.sentBy(transport)
        let summary = MessageSummary(voice: .init(new: 2, old: 8, urgentNew: 1, urgentOld: 0), messageAccount: "sip:1234@127.0.0.1")
        return SIPMessage.request(
            method: .notify, uri: SIPURI(user: "1234", host: "127.0.0.1", port: UInt16(port)),
            from: SIPNameAddress(uri: SIPURI(user: "mwid", host: host), parameters: [("tag", SIPIdentifiers.tag())]),
            to: SIPNameAddress(uri: SIPURI(user: "1234", host: "127.0.0.1")),
            callID: SIPIdentifiers.callID(host: host), cseq: 1,
            contact: SIPNameAddress(uri: SIPURI(user: "mwid", host: host, port: UInt16(localPort), parameters: [("transport", transport.rawValue)])),
            headers: [(.event, "message-summary"), (.subscriptionState, "terminated;reason=noresource")],
            contentType: .simpleMessageSummary, body: summary.bytes)
    }

    @Test(arguments: [SIPTransportKind.udp, .tcp])
    func notifyReachesSIPpAndGets200(transport: SIPTransportKind) async throws {
        let dir = try Peers.workDirectory("notify-\(transport)")
        let port = try await Peers.freePortBoth()
        let uas = try Peers.sipp("uas_notify.xml", port: port, transport: transport == .udp ? "u1" : "t1", in: dir)
        defer { uas.stop() }
        try await Peers.waitUntilListening(port: port, udp: transport == .udp, process: uas)
        let endpoint = try await Self.endpoint()
        defer { Task { await endpoint.shutdown() } }

        let request = (await Self.notify(to: port, transport: transport, from: endpoint))
        let response = try await endpoint.send(request, to: SIPPeer(host: "127.0.0.1", port: port, transport: transport))
        #expect(response.statusCode == 200)
        #expect(try response.to()?.tag != nil)
        #expect(await uas.waitForExit() == 0, "\(uas.log)")
        // What SIPp received is exactly what mwid meant to send.
        let received = try String(contentsOf: dir.appendingPathComponent("uas_notify.xml.msg"), encoding: .utf8)
        #expect(received.contains("Event: message-summary"))
        #expect(received.contains("Subscription-State: terminated;reason=noresource"))
        #expect(received.contains("Content-Type: application/simple-message-summary"))
        #expect(received.contains("Messages-Waiting: yes\r\nMessage-Account: sip:1234@127.0.0.1\r\nVoice-Message: 2/8 (1/0)"))
        #expect(received.contains("Via: SIP/2.0/\(transport.viaName) 127.0.0.1:"))
        let log = try String(contentsOf: dir.appendingPathComponent("uas_notify.xml.log"), encoding: .utf8)
        #expect(log.contains("waiting=yes"))
    }

    @Test func notifyOverTLSThroughStunnelToSIPp() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let dir = try Peers.workDirectory("notify-tls")
        let tcpPort = try await Peers.freePort(udp: false)
        let tlsPort = try await Peers.freePort(udp: false)
        let uas = try Peers.sipp("uas_notify.xml", port: tcpPort, transport: "t1", in: dir)
        defer { uas.stop() }
        let tunnel = try Peers.stunnel(accept: tlsPort, connect: tcpPort, client: false, pki: pki, in: dir)
        defer { tunnel.stop() }
        try await Peers.waitUntilListening(port: tcpPort, udp: false)
        try await Peers.waitUntilListening(port: tlsPort, udp: false, process: tunnel)
        let endpoint = try await Self.endpoint(tls: pki)
        defer { Task { await endpoint.shutdown() } }

        let request = (await Self.notify(to: tlsPort, transport: .tls, from: endpoint))
        let response = try await endpoint.send(request, to: SIPPeer(host: "127.0.0.1", port: tlsPort, transport: .tls))
        #expect(response.statusCode == 200)
        #expect(await uas.waitForExit() == 0, "\(uas.log)")
        let received = try String(contentsOf: dir.appendingPathComponent("uas_notify.xml.msg"), encoding: .utf8)
        #expect(received.contains("Via: SIP/2.0/TLS"))
    }

    @Test func tlsPeerWithAnUntrustedCertificateFailsAtOnce() async throws {
        let trusted = try TestPKI(name: "trusted")
        let other = try TestPKI(name: "other")
        defer { trusted.remove(); other.remove() }
        let dir = try Peers.workDirectory("tls-untrusted")
        let tlsPort = try await Peers.freePort(udp: false)
        let sink = try await Peers.freePort(udp: false)
        let tunnel = try Peers.stunnel(accept: tlsPort, connect: sink, client: false, pki: other, in: dir)
        defer { tunnel.stop() }
        try await Peers.waitUntilListening(port: tlsPort, udp: false, process: tunnel)
        let endpoint = try await Self.endpoint(tls: trusted) { $0.timers = SIPTimers(t1: .seconds(1)) }
        defer { Task { await endpoint.shutdown() } }

        let start = ContinuousClock.now
        let request = (await Self.notify(to: tlsPort, transport: .tls, from: endpoint))
        await #expect {
            _ = try await endpoint.send(request, to: SIPPeer(host: "127.0.0.1", port: tlsPort, transport: .tls))
        } throws: { error in
            guard let e = error as? SIPTransportError, case .tlsFailure = e else { return false }
            return true
        }
        #expect(ContinuousClock.now - start < .seconds(5), "a TLS failure must not wait for Timer F (64 s here)")
    }

    @Test func udpRetransmitsUntilTheThirdCopyIsAnswered() async throws {
        let dir = try Peers.workDirectory("retransmit")
        let port = try await Peers.freePort(udp: true)
        let uas = try Peers.sipp("uas_notify_ignore_twice.xml", port: port, transport: "u1", extra: ["-nr"], in: dir)
        defer { uas.stop() }
        try await Peers.waitUntilListening(port: port, udp: true, process: uas)
        let endpoint = try await Self.endpoint()
        defer { Task { await endpoint.shutdown() } }

        let request = (await Self.notify(to: port, transport: .udp, from: endpoint))
        let response = try await endpoint.send(request, to: SIPPeer(host: "127.0.0.1", port: port, transport: .udp))
        #expect(response.statusCode == 200)
        #expect(await uas.waitForExit() == 0, "\(uas.log)")
        let received = try String(contentsOf: dir.appendingPathComponent("uas_notify_ignore_twice.xml.msg"), encoding: .utf8)
        let copies = received.components(separatedBy: "NOTIFY sip:1234@").count - 1
        #expect(copies == 3, "SIPp saw \(copies) copies")
    }

    @Test func silentPeerEndsInTimerF() async throws {
        // A socket that receives every copy and never answers (SIPp would exit after the
        // first copy, and the closed port would then refuse the rest).
        let silent = try UDPSocket()
        let port = silent.port
        let endpoint = try await Self.endpoint()
        defer { Task { await endpoint.shutdown() } }

        let timers = SIPTimers(t1: .milliseconds(20), t2: .milliseconds(100))
        let start = ContinuousClock.now
        let request = (await Self.notify(to: port, transport: .udp, from: endpoint))
        await #expect(throws: SIPTransportError.timeout) {
            _ = try await endpoint.send(request, to: SIPPeer(host: "127.0.0.1", port: port, transport: .udp), timers: timers)
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(1_280), "Timer F is 64 × T1")
        #expect(elapsed < .seconds(5))
        #expect(await endpoint.transactionCounts().client == 0)
        #expect(silent.receive(timeout: 1)?.hasPrefix("NOTIFY sip:1234@") == true, "the peer got the copies")
    }

    @Test(arguments: [SIPTransportKind.tcp, .tls])
    func closedPortFailsAtOnce(transport: SIPTransportKind) async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let port = try await Peers.freePort(udp: false)
        let endpoint = try await Self.endpoint(tls: pki) { $0.timers = SIPTimers(t1: .seconds(4)) }
        defer { Task { await endpoint.shutdown() } }
        let start = ContinuousClock.now
        let request = (await Self.notify(to: port, transport: transport, from: endpoint))
        await #expect {
            _ = try await endpoint.send(request, to: SIPPeer(host: "127.0.0.1", port: port, transport: transport))
        } throws: { error in
            guard let e = error as? SIPTransportError, case .connectionRefused = e else { return false }
            return true
        }
        #expect(ContinuousClock.now - start < .seconds(3), "a refused connection must not wait for a timer (T1 is 4 s)")
    }

    /// RFC 3261 §18.4: ICMP port unreachable is a transport error that ends the
    /// transaction at once (the kernel tells the peer's watch socket).
    @Test func closedUDPPortFailsAtOnceAndAPeerThatComesBackIsAnswered() async throws {
        let port = try await Peers.freePort(udp: true)  // nothing listens there yet
        // T1 4 s: without the ICMP the first retransmission alone would take 4 s.
        let endpoint = try await Self.endpoint { $0.timers = SIPTimers(t1: .seconds(4), timeout: .seconds(8)) }
        defer { Task { await endpoint.shutdown() } }
        let peer = SIPPeer(host: "127.0.0.1", port: port, transport: .udp)
        for attempt in 1...2 {  // the first opens the watch, the second finds it open
            let start = ContinuousClock.now
            let request = await Self.notify(to: port, transport: .udp, from: endpoint)
            await #expect {
                _ = try await endpoint.send(request, to: peer)
            } throws: { error in
                guard let e = error as? SIPTransportError, case .connectionRefused(let why) = e else { return false }
                return why.contains("port unreachable")
            }
            #expect(ContinuousClock.now - start < .seconds(3), "attempt \(attempt): a closed UDP port must not wait for a timer")
        }
        #expect(await endpoint.transactionCounts().client == 0)

        // The peer starts listening: the watch socket passes its answers on.
        let dir = try Peers.workDirectory("udp-back")
        let uas = try Peers.sipp("uas_notify.xml", port: port, transport: "u1", calls: 1, in: dir)
        defer { uas.stop() }
        try await Peers.waitUntilListening(port: port, udp: true, process: uas)
        let response = try await endpoint.send(await Self.notify(to: port, transport: .udp, from: endpoint), to: peer)
        #expect(response.statusCode == 200)
        #expect(await uas.waitForExit() == 0, "\(uas.log)")
        // Answers now arrive on the watch socket: it must hold bursts as the listener does
        // (with the default buffer, 500 transactions in flight lost answers: 17 k/s, not 54 k).
        let buffers = await endpoint.udpReceiveBufferSizes()
        #expect(buffers.watches.count == 1 && buffers.watches.allSatisfy { $0 == buffers.listener }, "\(buffers)")
    }

    /// A peer that does not ask for the watch (a subscribed phone) is left to Timer F.
    @Test func anUnwatchedClosedUDPPortEndsInTimerF() async throws {
        let port = try await Peers.freePort(udp: true)
        let endpoint = try await Self.endpoint()
        defer { Task { await endpoint.shutdown() } }
        let timers = SIPTimers(t1: .milliseconds(20), t2: .milliseconds(100))
        let request = await Self.notify(to: port, transport: .udp, from: endpoint)
        await #expect(throws: SIPTransportError.timeout) {
            _ = try await endpoint.send(request, to: SIPPeer(host: "127.0.0.1", port: port, transport: .udp, watchesUnreachable: false),
                                        timers: timers)
        }
    }

    @Test(arguments: ["u1", "t1", "tls"])
    func sippOptionsGets200WithAllowAndAccept(mode: String) async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let dir = try Peers.workDirectory("options-\(mode)")
        let endpoint = try await Self.endpoint(tls: pki)
        defer { Task { await endpoint.shutdown() } }
        var target: Int
        var tunnel: PeerProcess?
        switch mode {
        case "u1": target = await endpoint.localAddress(.udp)?.port ?? 0
        case "t1": target = await endpoint.localAddress(.tcp)?.port ?? 0
        default:
            // SIPp speaks TCP to a local stunnel client that speaks TLS to mwid.
            target = try await Peers.freePort(udp: false)
            tunnel = try Peers.stunnel(accept: target, connect: await endpoint.localAddress(.tls)?.port ?? 0, client: true, pki: pki, in: dir)
            try await Peers.waitUntilListening(port: target, udp: false)
        }
        defer { tunnel?.stop() }
        let uacPort = try await Peers.freePortBoth()
        let uac = try Peers.sipp("uac_options.xml", port: uacPort, transport: mode == "u1" ? "u1" : "t1",
                                 remote: "127.0.0.1:\(target)", calls: 3, in: dir)
        defer { uac.stop() }
        #expect(await uac.waitForExit() == 0, "\(uac.log)")
        let log = try String(contentsOf: dir.appendingPathComponent("uac_options.xml.log"), encoding: .utf8)
        #expect(log.components(separatedBy: "OPTIONS answered").count - 1 == 3)
    }
}
