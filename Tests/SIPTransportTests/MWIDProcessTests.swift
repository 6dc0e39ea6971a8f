import Foundation
import Testing

/// The built `mwid` executable, started as an administrator would, probed by SIPp.
@Suite(.serialized) struct MWIDProcessTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/mwid").path

    @Test func answersOptionsOnItsListenersAndStopsOnSIGTERM() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build mwid first (scripts/test does)")
        let dir = try Peers.workDirectory("mwid-process")
        let port = try await Peers.freePortBoth()
        let mwid = try PeerProcess("mwid", Self.binary, ["--sip-udp", "127.0.0.1:\(port)", "--sip-tcp", "127.0.0.1:\(port)"], in: dir)
        defer { mwid.stop(signal: "KILL") }
        try await Peers.waitUntilListening(port: port, udp: false)
        try await Peers.waitUntilListening(port: port, udp: true)

        for transport in ["u1", "t1"] {
            let uac = try Peers.sipp("uac_options.xml", port: try await Peers.freePortBoth(), transport: transport,
                                     remote: "127.0.0.1:\(port)", calls: 2, in: dir)
            #expect(await uac.waitForExit() == 0, "\(uac.log)")
        }

        // SIGTERM to mwid itself (the child of timeout(1)).
        mwid.stop(signal: "TERM")
        #expect(mwid.log.contains("stopping on SIGTERM"))
        #expect(mwid.log.contains("stopped"))
        #expect(mwid.log.contains("SIP listening"))
    }

    @Test func portInUseIsAClearErrorAndNonZeroExit() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary))
        let dir = try Peers.workDirectory("mwid-port-in-use")
        let port = try await Peers.freePortBoth()
        let first = try PeerProcess("first", Self.binary, ["--sip-udp", "127.0.0.1:\(port)", "--sip-tcp", "127.0.0.1:\(port)"], in: dir)
        defer { first.stop(signal: "KILL") }
        try await Peers.waitUntilListening(port: port, udp: false)
        let second = try PeerProcess("second", Self.binary, ["--sip-udp", "127.0.0.1:\(port)", "--sip-tcp", "127.0.0.1:\(port)"], in: dir)
        let status = await second.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(second.log.contains("address already in use"), "\(second.log)")
    }

    @Test func badListenerAddressIsRefused() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary))
        let dir = try Peers.workDirectory("mwid-bad-listener")
        let p = try PeerProcess("bad", Self.binary, ["--sip-udp", "not-an-address"], in: dir)
        #expect(await p.waitForExit(timeout: .seconds(20)) == 1)
        #expect(p.log.contains("is not HOST:PORT"), "\(p.log)")
    }
}
