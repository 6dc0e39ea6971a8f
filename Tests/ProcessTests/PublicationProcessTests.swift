import Foundation
import TestSupport
import Testing

/// Another voicemail system feeding a running mwid: SIPp PUBLISHes a mailbox's counts
/// (RFC 3903), mwid lights the lamp behind a SIPp "PBX"; `mwictl mwi set` does the same
/// over HTTP.
@Suite(.serialized) struct PublicationProcessTests {
    func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Dial plan Paris, policy Default, the SIPp PBX as pbx1, and carol's mailbox fed by PUBLISH.
    func provision(_ mwid: RunningMWID, gatewayPort: Int) async throws {
        for step in [
            ["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4"],
            ["policy", "new", "Default", "--dial-plan", "Paris"],
            ["gateway", "new", "pbx1", "--address", "127.0.0.1", "--port", "\(gatewayPort)", "--transport", "udp", "--dial-plans", "Paris"],
            ["mailbox", "new", "carol@example.com", "--extension", "1236", "--dial-plan", "Paris", "--policy", "Default",
             "--mwi-source", "External"],
        ] {
            let r = try await mwid.mwictl(step)
            try #require(r.status == 0, "\(step): \(r.err)")
        }
    }

    @Test func publishedCountsLightTheLampAndExpireOrGo() async throws {
        let mwid = try await RunningMWID("publish", arguments: ["--mwi-notify-interval", "0", "--sip-trusted-peer", "127.0.0.1"])
        defer { mwid.stop() }
        let gatewayPort = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_notify.xml", port: gatewayPort, transport: "u1", calls: 5, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: gatewayPort, udp: true, process: pbx)
        try await provision(mwid, gatewayPort: gatewayPort)
        let alice = try await mwid.mwictl(["mailbox", "new", "alice@example.com", "--extension", "1234", "--dial-plan", "Paris",
                                           "--policy", "Default"])
        try #require(alice.status == 0, "\(alice.err)")

        // The voicemail system: initial, modify, a stale tag refused with 412, refresh, removal.
        let publisherPort = try await Peers.freePortBoth()
        let publisher = try Peers.sipp("uac_publish.xml", port: publisherPort, transport: "u1", remote: "127.0.0.1:\(mwid.sipPort)",
                                       service: "1236", in: mwid.directory)
        defer { publisher.stop() }
        #expect(await publisher.waitForExit() == 0, "\(publisher.log)")
        let log = (try? String(contentsOf: mwid.directory.appendingPathComponent("uac_publish.xml.log"), encoding: .utf8)) ?? ""
        let tags = log.matches(of: /etag=([A-Za-z0-9]+)/).map { String($0.1) }
        #expect(tags.count == 3 && Set(tags).count == 3, "a new entity tag for each accepted PUBLISH: \(log)")

        // The gateway was told the published counts in the order they were published —
        // newest only: one that a newer publication overtook before its NOTIFY went may be
        // skipped, never sent after the newer one — and the lamp is out at the end.
        let notifies = { Peers.sippMessages(mwid.directory.appendingPathComponent("uas_notify.xml.msg")).filter { $0.hasPrefix("NOTIFY ") } }
        #expect(await Peers.eventually { notifies().last?.contains("Voice-Message: 0/0") == true }, "\(notifies())")
        let published = ["Voice-Message: 2/1 (1/0)", "Voice-Message: 0/3 (0/0)", "Voice-Message: 0/0 (0/0)"]
        let order = notifies().map { body in published.firstIndex { body.contains($0) } ?? -1 }
        // (The same one twice in a row is a UDP retransmission the gateway's log keeps.)
        #expect(!order.contains(-1) && order == order.sorted(), "\(notifies())")
        #expect(notifies().allSatisfy { $0.contains("Voice-Message: 2/1") == $0.contains("Messages-Waiting: yes") }, "\(notifies())")
        #expect(notifies().last?.contains("Messages-Waiting: no") == true)
        let status = json(try await mwid.mwictl(["mwi", "status", "carol@example.com", "--json"]).out)
        #expect(status["mwiSource"] as? String == "External" && status["new"] as? Int == 0 && (status["publications"] as? [Any])?.isEmpty == true)
        let shown = try await mwid.mwictl(["mwi", "status", "carol@example.com"])
        #expect(shown.out.contains("External") && shown.out.contains("no live publication"), "\(shown.out)")

        // Over HTTP, as an administrator or a system that prefers it: the lamp goes on again.
        let set = try await mwid.mwictl(["mwi", "set", "carol@example.com", "--new", "3", "--old", "1"])
        #expect(set.status == 0 && set.out.contains("api") && set.out.contains("3/1 (0/0)"), "\(set.out)\(set.err)")
        #expect(await Peers.eventually { notifies().last?.contains("Voice-Message: 3/1") == true }, "\(notifies())")
        // A deposit to it is refused; a mailbox that counts its messages refuses published counts.
        let deposit = try await mwid.mwictl(["message", "deposit", "carol@example.com", "--from", "+33142685300", "--duration", "3"])
        #expect(deposit.status != 0 && deposit.err.contains("mwiSource") && deposit.err.contains("409"), "\(deposit.err)")
        let refused = try await mwid.mwictl(["mwi", "set", "alice@example.com", "--new", "1", "--old", "0"])
        #expect(refused.status != 0 && refused.err.contains("mwiSource Messages"), "\(refused.err)")
    }

    @Test func aPublicationNotRefreshedExpiresAndTheLampGoesOut() async throws {
        let mwid = try await RunningMWID("publish-expiry", arguments: ["--mwi-notify-interval", "0", "--sip-trusted-peer", "127.0.0.1",
                                                                       "--subscription-min-expires", "1"])
        defer { mwid.stop() }
        let gatewayPort = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_notify.xml", port: gatewayPort, transport: "u1", calls: 2, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: gatewayPort, udp: true, process: pbx)
        try await provision(mwid, gatewayPort: gatewayPort)
        let publisher = try Peers.sipp("uac_publish_once.xml", port: try await Peers.freePortBoth(), transport: "u1",
                                       remote: "127.0.0.1:\(mwid.sipPort)", service: "1236", extra: ["-key", "expires", "2"],
                                       in: mwid.directory)
        defer { publisher.stop() }
        #expect(await publisher.waitForExit() == 0, "\(publisher.log)")
        // On at once; out when the two seconds are over, with nobody asking.
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")
        let notifies = Peers.sippMessages(mwid.directory.appendingPathComponent("uas_notify.xml.msg")).filter { $0.hasPrefix("NOTIFY ") }
        #expect(notifies.count == 2 && notifies.first?.contains("Voice-Message: 1/0") == true
                && notifies.last?.contains("Messages-Waiting: no") == true, "\(notifies)")
        let events = try await mwid.mwictl(["events", "--subject", "carol@example.com", "--json"])
        #expect(events.out.contains("mwi.publication.expired"), "\(events.out)")
    }
}
