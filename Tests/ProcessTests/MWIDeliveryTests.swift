import Foundation
import TestSupport
import Testing

/// Deposits through mwictl reach a SIPp "PBX" as RFC 3842 NOTIFYs from a running mwid.
@Suite(.serialized) struct MWIDeliveryTests {
    /// Provisions dial plan, policy, one mailbox and the gateways given (name, port, transport, priority).
    func provision(_ mwid: RunningMWID, gateways: [(String, Int, String, Int)], uriType: String = "TelExtn",
                   resource: String? = nil) async throws {
        var steps: [[String]] = [
            ["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4", "--uri-type", uriType],
            ["policy", "new", "Default", "--dial-plan", "Paris"],
        ]
        for (name, port, transport, priority) in gateways {
            steps.append(["gateway", "new", name, "--address", "127.0.0.1", "--port", "\(port)", "--transport", transport,
                          "--dial-plans", "Paris", "--priority", "\(priority)"])
        }
        var mailbox = ["mailbox", "new", "alice@example.com", "--extension", "1234", "--dial-plan", "Paris", "--policy", "Default"]
        if let resource { mailbox += ["--sip-resource-identifier", resource] }
        steps.append(mailbox)
        for step in steps {
            let r = try await mwid.mwictl(step)
            try #require(r.status == 0, "\(step): \(r.err)")
        }
    }

    func deposit(_ mwid: RunningMWID, urgent: Bool = false) async throws -> String {
        let r = try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "+33142685300", "--duration", "12",
                                       "--json"] + (urgent ? ["--urgent"] : []))
        try #require(r.status == 0, "\(r.err)")
        let message = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        return try #require(message?["id"] as? String)
    }

    func status(_ mwid: RunningMWID) async throws -> [String: Any] {
        let r = try await mwid.mwictl(["mwi", "status", "alice@example.com", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]) ?? [:]
    }

    /// Waits (bounded) until the mailbox's newest state is acknowledged.
    func waitAcknowledged(_ mwid: RunningMWID) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let s = try await status(mwid)
            if s["acknowledged"] as? Bool == true { return s }
            try await Task.sleep(for: .milliseconds(50))
        }
        let last = try await status(mwid)  // once more: this wait may itself have been kept from running
        if last["acknowledged"] as? Bool == true { return last }
        Issue.record("not acknowledged in time: \(last)")
        return [:]
    }

    @Test(arguments: ["udp", "tcp"])
    func depositLightsTheLampAndReadingTurnsItOff(transport: String) async throws {
        let mwid = try await RunningMWID("mwi-\(transport)", arguments: ["--mwi-notify-interval", "0"])
        defer { mwid.stop() }
        let port = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_notify.xml", port: port, transport: transport == "udp" ? "u1" : "t1", calls: 2, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: port, udp: transport == "udp", process: pbx)
        try await provision(mwid, gateways: [("pbx1", port, transport, 0)])

        let id = try await deposit(mwid, urgent: true)
        var s = try await waitAcknowledged(mwid)
        #expect(s["new"] as? Int == 1 && s["urgentNew"] as? Int == 1)
        let attempts = s["lastAttempts"] as? [[String: Any]] ?? []
        #expect(attempts.first?["response"] as? String == "200 OK" && attempts.first?["gateway"] as? String == "pbx1")
        #expect(attempts.first?["transport"] as? String == transport)

        #expect(try await mwid.mwictl(["message", "read", "alice@example.com", id]).status == 0)
        s = try await waitAcknowledged(mwid)
        #expect(s["messagesWaiting"] as? Bool == false)
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")

        let received = try String(contentsOf: mwid.directory.appendingPathComponent("uas_notify.xml.msg"), encoding: .utf8)
        #expect(received.contains("NOTIFY sip:1234@127.0.0.1:\(port) SIP/2.0"), "\(received)")
        #expect(received.contains("To: <sip:1234@127.0.0.1:\(port)>"))
        #expect(received.contains("Event: message-summary"))
        #expect(received.contains("Subscription-State: terminated;reason=noresource"))
        #expect(received.contains("Content-Type: application/simple-message-summary"))
        #expect(received.contains("Via: SIP/2.0/\(transport.uppercased()) 127.0.0.1:\(mwid.sipPort)"))
        #expect(received.contains("Messages-Waiting: yes\r\nMessage-Account: sip:1234@127.0.0.1:\(port)\r\nVoice-Message: 1/0 (1/0)"))
        #expect(received.contains("Messages-Waiting: no\r\nMessage-Account: sip:1234@127.0.0.1:\(port)\r\nVoice-Message: 0/1 (0/1)"))
        // The newer state is never followed by the older one.
        let yes = try #require(received.range(of: "Messages-Waiting: yes"))
        let no = try #require(received.range(of: "Messages-Waiting: no"))
        #expect(yes.lowerBound < no.lowerBound)
    }

    /// A closed port is refused at once: TCP by the connection, UDP by ICMP port unreachable.
    @Test(arguments: ["tcp", "udp"])
    func aRefusingGatewayIsSkippedForTheNextOneAtOnce(transport: String) async throws {
        let mwid = try await RunningMWID("mwi-failover-\(transport)", arguments: ["--mwi-notify-interval", "0"])
        defer { mwid.stop() }
        let udp = transport == "udp"
        let closed = try await Peers.freePort(udp: udp)  // nothing listens there
        let port = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_notify.xml", port: port, transport: udp ? "u1" : "t1", calls: 1, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: port, udp: udp, process: pbx)
        try await provision(mwid, gateways: [("down", closed, transport, 0), ("up", port, transport, 1)])

        let started = ContinuousClock.now
        _ = try await deposit(mwid)
        let s = try await waitAcknowledged(mwid)
        #expect(ContinuousClock.now - started < .seconds(15), "failover must not wait for a timeout (Timer F is 32 s)")
        let attempts = s["lastAttempts"] as? [[String: Any]] ?? []
        #expect(attempts.count == 2)
        #expect(attempts.first?["gateway"] as? String == "up" && attempts.first?["delivered"] as? Bool == true)
        #expect(attempts.last?["gateway"] as? String == "down" && attempts.last?["delivered"] as? Bool == false)
        let refused: String = (attempts.last?["response"] as? String) ?? ""
        #expect(refused.contains("refused"), "\(attempts)")
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")
    }

    @Test func everyGatewayDownForTheRetryWindowIsAnErrorEventAndThePendingStateIsDeliveredAfterARestart() async throws {
        let mwid = try await RunningMWID("mwi-window", arguments: ["--mwi-notify-interval", "0", "--mwi-retry-window", "1"])
        let closed = try await Peers.freePortBoth()
        try await provision(mwid, gateways: [("pbx1", closed, "tcp", 0)])
        _ = try await deposit(mwid)
        // The window (1 s) is spent: an error event names the mailbox, the state stays pending.
        let deadline = ContinuousClock.now + .seconds(20)
        var events = ""
        while ContinuousClock.now < deadline {
            events = try await mwid.mwictl(["events", "--subject", "alice@example.com"]).out
            if events.contains("mwi.failed") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(events.contains("mwi.failed"), "\(events)")
        #expect(try await status(mwid)["acknowledged"] as? Bool == false)
        mwid.stop(signal: "KILL")

        // The PBX comes up on that port; mwid restarts and delivers what was pending.
        let pbx = try Peers.sipp("uas_notify.xml", port: closed, transport: "t1", calls: 1, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: closed, udp: false, process: pbx)
        let again = try await RunningMWID("mwi-window", in: mwid.directory, arguments: ["--mwi-notify-interval", "0"])
        defer { again.stop() }
        let s = try await waitAcknowledged(again)
        #expect(s["new"] as? Int == 1)
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")
    }
}

extension MWIDeliveryTests {
    @Test func switchingMWIOffSendsOneLastNoThenSilenceAndOnSendsTheCurrentState() async throws {
        let mwid = try await RunningMWID("mwi-switch", arguments: ["--mwi-notify-interval", "0"])
        defer { mwid.stop() }
        let port = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_notify.xml", port: port, transport: "u1", calls: 4, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: port, udp: true, process: pbx)
        try await provision(mwid, gateways: [("pbx1", port, "udp", 0)])

        _ = try await deposit(mwid)
        _ = try await waitAcknowledged(mwid)
        #expect(try await mwid.mwictl(["policy", "set", "Default", "--allow-message-waiting-indicator", "false"]).status == 0)
        _ = try await waitAcknowledged(mwid)  // the last "no"
        _ = try await deposit(mwid)           // MWI is off: silence
        #expect(try await mwid.mwictl(["policy", "set", "Default", "--allow-message-waiting-indicator", "true"]).status == 0)
        var s = try await waitAcknowledged(mwid)
        #expect(s["new"] as? Int == 2)
        // A forced refresh re-sends an acknowledged state.
        let refresh = try await mwid.mwictl(["mwi", "refresh", "--gateway", "pbx1"])
        #expect(refresh.status == 0 && refresh.out.contains("refreshing 1 mailbox"), "\(refresh)")
        s = try await waitAcknowledged(mwid)
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")

        let states = (s["lastAttempts"] as? [[String: Any]] ?? []).compactMap { $0["state"] as? String }
        #expect(states == ["yes 2/0 (0/0)", "yes 2/0 (0/0)", "no 0/0 (0/0)", "yes 1/0 (0/0)"], "\(states)")
        let human = try await mwid.mwictl(["mwi", "status", "alice@example.com"])
        #expect(human.out.contains("last attempts:") && human.out.contains("200 OK") && !human.out.contains("{…}"), "\(human.out)")
    }
}

extension MWIDeliveryTests {
    @Test func aGatewayComingBackGetsEveryPendingLampWithoutAnyoneAsking() async throws {
        let mwid = try await RunningMWID("mwi-health", arguments: [
            "--mwi-notify-interval", "0", "--mwi-health-interval", "0.3", "--mwi-retry-window", "0.5"])
        defer { mwid.stop() }
        let port = try await Peers.freePortBoth()
        try await provision(mwid, gateways: [("pbx1", port, "tcp", 0)])
        _ = try await deposit(mwid)
        // The PBX is off: the health check notices, the state stays pending.
        try await waitForEvent(mwid, subject: "pbx1", kind: "gateway.down")
        #expect(try await status(mwid)["acknowledged"] as? Bool == false)

        // The PBX boots: within a health interval the lamp is right again.
        let pbx = try Peers.sipp("uas_pbx.xml", port: port, transport: "t1", calls: 1000, in: mwid.directory)
        defer { pbx.stop() }
        let s = try await waitAcknowledged(mwid)
        #expect(s["new"] as? Int == 1)
        try await waitForEvent(mwid, subject: "pbx1", kind: "gateway.up")
    }

    @Test func everyLampIsResentOncePerRefreshIntervalSpreadAcrossIt() async throws {
        let mwid = try await RunningMWID("mwi-refresh", arguments: [
            "--mwi-notify-interval", "0", "--mwi-health-interval", "0", "--mwi-refresh-interval", "2"])
        defer { mwid.stop() }
        let port = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_pbx.xml", port: port, transport: "u1", calls: 1000, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: port, udp: true, process: pbx)
        try await provision(mwid, gateways: [("pbx1", port, "udp", 0)])
        for ext in ["1001", "1002", "1003"] {
            let r = try await mwid.mwictl(["mailbox", "new", "user\(ext)", "--extension", ext, "--dial-plan", "Paris", "--policy", "Default"])
            try #require(r.status == 0, "\(r.err)")
        }
        // Nobody deposits anything: every lamp is still re-sent, one mailbox at a time.
        var times: [Date] = []
        let deadline = ContinuousClock.now + .seconds(20)
        let identities = ["alice@example.com", "user1001", "user1002", "user1003"]
        while ContinuousClock.now < deadline {
            times = []
            for identity in identities {
                let r = try await mwid.mwictl(["mwi", "status", identity, "--json"])
                let s = (try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]) ?? [:]
                let attempts = s["lastAttempts"] as? [[String: Any]] ?? []
                if let at = (attempts.last?["at"] as? String).flatMap({ try? Date($0, strategy: .iso8601) }) { times.append(at) }
            }
            if times.count == identities.count { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(times.count == identities.count, "every mailbox refreshed: \(times)")
        // Spread, not a burst: four mailboxes over a 2 s interval are ~0.5 s apart.
        if let first = times.min(), let last = times.max() {
            #expect(last.timeIntervalSince(first) >= 1, "\(times)")
        }
    }

    func waitForEvent(_ mwid: RunningMWID, subject: String, kind: String) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if try await mwid.mwictl(["events", "--subject", subject]).out.contains(kind) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("no \(kind) event for \(subject)")
    }
}

extension MWIDeliveryTests {
    @Test func aSecuredDialPlanDeliversOverTLSAndNeverFallsBackToTCP() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let mwid = try await RunningMWID("mwi-tls", arguments: ["--mwi-notify-interval", "0", "--mwi-retry-window", "1",
                                                                "--mwi-health-interval", "0", "--tls-ca", pki.caFile])
        defer { mwid.stop() }
        // The PBX speaks TLS (stunnel in front of SIPp); a second one speaks only plain TCP.
        let tcpPort = try await Peers.freePort(udp: false)
        let tlsPort = try await Peers.freePort(udp: false)
        let pbx = try Peers.sipp("uas_notify.xml", port: tcpPort, transport: "t1", calls: 1, in: mwid.directory)
        defer { pbx.stop() }
        let tunnel = try Peers.stunnel(accept: tlsPort, connect: tcpPort, client: false, pki: pki, in: mwid.directory)
        defer { tunnel.stop() }
        let plainPort = try await Peers.freePort(udp: false)
        let plain = try PeerProcess("plain-pbx", Peers.executable("sipp") ?? "/usr/bin/sipp", [
            "-sf", Peers.scenarios.appendingPathComponent("uas_notify.xml").path, "-i", "127.0.0.1", "-p", "\(plainPort)", "-t", "t1",
            "-m", "1", "-nostdin", "-trace_msg", "-message_file", mwid.directory.appendingPathComponent("plain.msg").path,
        ], in: mwid.directory)
        defer { plain.stop() }
        for port in [tcpPort, tlsPort, plainPort] { try await Peers.waitUntilListening(port: port, udp: false) }
        for step in [
            ["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4", "--voip-security", "Secured"],
            ["policy", "new", "Default", "--dial-plan", "Paris"],
            ["gateway", "new", "pbx1", "--address", "127.0.0.1", "--port", "\(tlsPort)", "--dial-plans", "Paris"],
            ["mailbox", "new", "alice@example.com", "--extension", "1234", "--dial-plan", "Paris", "--policy", "Default"],
            ["dialplan", "new", "Lyon", "--number-of-digits-in-extension", "4", "--voip-security", "Secured"],
            ["policy", "new", "LyonDefault", "--dial-plan", "Lyon"],
            ["gateway", "new", "plain", "--address", "127.0.0.1", "--port", "\(plainPort)", "--dial-plans", "Lyon"],
            ["mailbox", "new", "bob@example.com", "--extension", "1234", "--dial-plan", "Lyon", "--policy", "LyonDefault"],
        ] {
            let r = try await mwid.mwictl(step)
            try #require(r.status == 0, "\(step): \(r.err)")
        }
        let forced = try await mwid.mwictl(["gateway", "set", "pbx1", "--transport", "tcp"])
        #expect(forced.status != 0 && forced.err.contains("transport"), "a Secured dial plan refuses a gateway forced to TCP")

        _ = try await deposit(mwid)
        let s = try await waitAcknowledged(mwid)
        let attempt = (s["lastAttempts"] as? [[String: Any]])?.first
        #expect(attempt?["transport"] as? String == "tls" && attempt?["response"] as? String == "200 OK", "\(s)")
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")
        let received = try String(contentsOf: mwid.directory.appendingPathComponent("uas_notify.xml.msg"), encoding: .utf8)
        #expect(received.contains("Via: SIP/2.0/TLS 127.0.0.1:"), "\(received)")
        #expect(received.contains("Contact: <sip:mwid@127.0.0.1:") && received.contains(";transport=tls>"))

        // Bob's gateway answers only plain TCP: the TLS handshake fails and nothing is sent in clear.
        let r = try await mwid.mwictl(["message", "deposit", "bob@example.com", "--from", "+33142685300", "--duration", "3"])
        try #require(r.status == 0, "\(r.err)")
        let deadline = ContinuousClock.now + .seconds(20)
        var bob: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            let out = try await mwid.mwictl(["mwi", "status", "bob@example.com", "--json"]).out
            bob = (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? [:]
            if (bob["lastAttempts"] as? [[String: Any]])?.isEmpty == false { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let failed = (bob["lastAttempts"] as? [[String: Any]])?.first
        #expect(failed?["transport"] as? String == "tls" && failed?["delivered"] as? Bool == false, "\(bob)")
        #expect((failed?["response"] as? String)?.contains("TLS failure") == true, "\(bob)")
        let clear = (try? String(contentsOf: mwid.directory.appendingPathComponent("plain.msg"), encoding: .utf8)) ?? ""
        #expect(!clear.contains("NOTIFY sip:"), "no NOTIFY in clear: \(clear)")
    }

    @Test func aGatewayThatChallengesGetsTheDigestOfItsCredentials() async throws {
        let mwid = try await RunningMWID("mwi-digest", arguments: ["--mwi-notify-interval", "0", "--mwi-health-interval", "0", "--sip-t1", "100",
                                                                   "--mwi-retry-window", "0.5"])
        defer { mwid.stop() }
        let port = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_notify_auth.xml", port: port, transport: "u1", calls: 2, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: port, udp: true, process: pbx)
        try await provision(mwid, gateways: [("pbx1", port, "udp", 0)])
        #expect(try await mwid.mwictl(["gateway", "set", "pbx1", "--username", "mwi", "--password", "secret"]).status == 0)
        _ = try await deposit(mwid)
        let s = try await waitAcknowledged(mwid)
        #expect((s["lastAttempts"] as? [[String: Any]])?.first?["response"] as? String == "200 OK", "\(s)")
        // With a wrong password the PBX answers 403: not delivered, and said so. (The retry
        // that follows within the retry window finds SIPp gone after its two calls: refused
        // at once by ICMP, so the 403 need not be the newest attempt.)
        #expect(try await mwid.mwictl(["gateway", "set", "pbx1", "--password", "wrong"]).status == 0)
        _ = try await deposit(mwid)
        let deadline = ContinuousClock.now + .seconds(20)
        var attempts: [[String: Any]] = []
        var refused: [String: Any]?
        while ContinuousClock.now < deadline {
            attempts = (try await status(mwid))["lastAttempts"] as? [[String: Any]] ?? []
            refused = attempts.first { ($0["response"] as? String)?.hasPrefix("403") == true }
            if refused != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(refused?["delivered"] as? Bool == false, "\(attempts)")
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")
        let log = try String(contentsOf: mwid.directory.appendingPathComponent("uas_notify_auth.xml.log"), encoding: .utf8)
        #expect(log.contains("AUTH OK") && log.contains("AUTH FAILED"), "\(log)")
    }

    /// How the last run ended decides what a start re-sends. After a crash of mwid alone
    /// (`kill -9`), nothing committed is lost and nothing is re-sent; after the machine
    /// stopped under it (the run's marker is of another boot: a power cut, a kernel crash),
    /// the last commits and what their NOTIFYs told may be lost, so every lamp is re-sent
    /// without anyone asking. A clean stop leaves no marker.
    @Test func afterTheMachineStoppedUnderMWIDEveryLampIsResentAtStart() async throws {
        // (No health checks: the PBX here answers NOTIFYs only.)
        let quiet = ["--mwi-notify-interval", "0", "--mwi-health-interval", "0"]
        let mwid = try await RunningMWID("mwi-machine-stop", arguments: quiet)
        let port = try await Peers.freePortBoth()
        let pbx = try Peers.sipp("uas_notify.xml", port: port, transport: "u1", calls: 2, in: mwid.directory)
        defer { pbx.stop() }
        try await Peers.waitUntilListening(port: port, udp: true, process: pbx)
        try await provision(mwid, gateways: [("pbx1", port, "udp", 0)])
        _ = try await deposit(mwid)
        _ = try await waitAcknowledged(mwid)
        let marker = mwid.dataDirectory.appendingPathComponent("mwid.running")
        let boot = try String(contentsOf: URL(fileURLWithPath: "/proc/sys/kernel/random/boot_id"), encoding: .utf8)
        #expect(try String(contentsOf: marker, encoding: .utf8) == boot, "the marker names this boot")
        mwid.stop(signal: "KILL")

        // A crash of mwid alone: the lamp stays acknowledged (a re-send would be marked
        // pending before HTTP answers).
        let crashed = try await RunningMWID("mwi-machine-stop", in: mwid.directory, arguments: quiet)
        #expect(try await status(crashed)["acknowledged"] as? Bool == true)
        #expect(crashed.process.log.contains("mwid did not stop cleanly last time"), "\(crashed.process.log)")
        crashed.stop()
        #expect(!FileManager.default.fileExists(atPath: marker.path), "a clean stop leaves no marker")

        // As a power cut leaves it: the marker of a run in an earlier boot.
        try "00000000-0000-0000-0000-000000000000\n".write(to: marker, atomically: true, encoding: .utf8)
        let again = try await RunningMWID("mwi-machine-stop", in: mwid.directory, arguments: quiet)
        defer { again.stop() }
        #expect(again.process.log.contains("the machine stopped while mwid was running"), "\(again.process.log)")
        let s = try await waitAcknowledged(again)
        #expect(s["new"] as? Int == 1)
        #expect(await pbx.waitForExit() == 0, "\(pbx.log)")
        let received = try String(contentsOf: mwid.directory.appendingPathComponent("uas_notify.xml.msg"), encoding: .utf8)
        #expect(received.components(separatedBy: "Voice-Message: 1/0 (0/0)").count - 1 == 2, "\(received)")
    }
}
