import Foundation
import SIP
import TestSupport
import Testing

/// Phones SUBSCRIBE to their mailbox on a running mwid: SIPp as the phone (digest,
/// refresh, unsubscribe, every refusal), a restart in the middle, and baresip, a real SIP
/// phone, showing the waiting state after a deposit.
@Suite(.serialized) struct SubscriptionTests {
    /// Dial plan Paris, policy Default, Alice (1234, password "secret") and Bob (1235, "bobs").
    func provision(_ mwid: RunningMWID) async throws {
        for step in [
            ["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4"],
            ["policy", "new", "Default", "--dial-plan", "Paris"],
            ["mailbox", "new", "alice@example.com", "--extension", "1234", "--dial-plan", "Paris", "--policy", "Default",
             "--sip-password", "secret"],
            ["mailbox", "new", "bob@example.com", "--extension", "1235", "--dial-plan", "Paris", "--policy", "Default",
             "--sip-password", "bobs"],
        ] {
            let r = try await mwid.mwictl(step)
            try #require(r.status == 0, "\(step): \(r.err)")
        }
    }

    func subscriptions(_ mwid: RunningMWID, _ mailbox: String = "alice@example.com") async throws -> [[String: Any]] {
        let r = try await mwid.mwictl(["mailbox", "subscriptions", mailbox, "--json"])
        return (try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]]) ?? []
    }

    func waitForSubscriptions(_ mwid: RunningMWID, count: Int) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let list = try await subscriptions(mwid)
            if list.count == count { return list }
            try await Task.sleep(for: .milliseconds(50))
        }
        let last = try await subscriptions(mwid)  // once more: this wait may itself have been kept from running
        if last.count == count { return last }
        Issue.record("not \(count) subscription(s) in time: \(last)")
        return []
    }

    func deposit(_ mwid: RunningMWID) async throws {
        let r = try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "+33142685300", "--duration", "9"])
        try #require(r.status == 0, "\(r.err)")
    }

    /// The NOTIFYs among the messages SIPp logged, in order.
    func notifies(_ messages: [String]) -> [String] { messages.filter { $0.hasPrefix("NOTIFY ") } }

    static func firstLine(_ message: String) -> String { String(message.prefix { $0 != "\n" }) }

    @Test(arguments: ["u1", "t1"])
    func aPhoneSubscribesWithDigestIsToldOfADepositRefreshesAndUnsubscribes(transport: String) async throws {
        let mwid = try await RunningMWID("sub-\(transport)", arguments: ["--mwi-notify-interval", "0"])
        defer { mwid.stop() }
        try await provision(mwid)
        let port = try await Peers.freePortBoth()
        let phone = try Peers.sipp("uac_subscribe_lifecycle.xml", port: port, transport: transport,
                                   remote: "127.0.0.1:\(mwid.sipPort)", extra: ["-au", "1234", "-ap", "secret"], in: mwid.directory)
        defer { phone.stop() }
        let live = try await waitForSubscriptions(mwid, count: 1)
        #expect(live.first?["subscriber"] as? String == "digest 1234")
        #expect(live.first?["transport"] as? String == (transport == "u1" ? "udp" : "tcp"))
        try await deposit(mwid)
        #expect(await phone.waitForExit() == 0, "\(phone.log)")
        #expect(try await subscriptions(mwid).isEmpty, "unsubscribed")

        let messages = Peers.sippMessages(mwid.directory.appendingPathComponent("uac_subscribe_lifecycle.xml.msg"))
        let responses = messages.filter { $0.hasPrefix("SIP/2.0 ") && $0.contains(" SUBSCRIBE\n") }
        try #require(responses.count == 6, "\(messages)")
        #expect(responses.map(Self.firstLine) == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK", "SIP/2.0 401 Unauthorized",
                                                  "SIP/2.0 200 OK", "SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"])
        #expect(!messages.contains { $0.hasPrefix("SIP/2.0 202") }, "200 OK, never 202")
        #expect(responses[1].contains("Expires: 3600") && responses[3].contains("Expires: 1800") && responses[5].contains("Expires: 0"))
        let sent = notifies(messages)
        try #require(sent.count == 4, "\(sent)")
        #expect(sent[0].contains("Subscription-State: active;expires=35") && sent[0].contains("Messages-Waiting: no")
                && sent[0].contains("Voice-Message: 0/0 (0/0)"), "the first NOTIFY: the state now\n\(sent[0])")
        #expect(sent[1].contains("Messages-Waiting: yes") && sent[1].contains("Voice-Message: 1/0 (0/0)"), "the deposit\n\(sent[1])")
        #expect(sent[2].contains("Subscription-State: active;expires=17"), "after the refresh\n\(sent[2])")
        #expect(sent[3].contains("Subscription-State: terminated;reason=timeout") && sent[3].contains("Voice-Message: 1/0"))
        #expect(sent.allSatisfy { $0.contains("Event: message-summary") && $0.contains("Content-Type: application/simple-message-summary") })
        #expect(sent.allSatisfy { $0.hasPrefix("NOTIFY sip:phone@127.0.0.1:\(port)") }, "the Contact is the remote target")
        let cseqs = sent.compactMap { text in text.range(of: #"CSeq: (\d+) NOTIFY"#, options: .regularExpression).map { String(text[$0]) } }
        #expect(cseqs == ["CSeq: 1 NOTIFY", "CSeq: 2 NOTIFY", "CSeq: 3 NOTIFY", "CSeq: 4 NOTIFY"])
    }

    /// A scenario that sends one SUBSCRIBE (answering a challenge with -au/-ap when asked)
    /// and expects `code`.
    func refusalScenario(_ name: String, in dir: URL, event: String = "message-summary", expires: Int = 3600,
                         authenticate: Bool, code: Int) throws -> String {
        func subscribe(_ cseq: Int, credentials: Bool) -> String {
            """
              <send retrans="500">
                <![CDATA[
                  SUBSCRIBE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
                  Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
                  From: <sip:[service]@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
                  To: <sip:[service]@[remote_ip]:[remote_port]>
                  Call-ID: [call_id]
                  CSeq: \(cseq) SUBSCRIBE
                  Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>\(credentials ? "\n      [authentication]" : "")
                  Max-Forwards: 70
                  Event: \(event)
                  Expires: \(expires)
                  Content-Length: 0

                ]]>
              </send>
            """
        }
        var body = subscribe(1, credentials: false)
        if authenticate { body += "\n  <recv response=\"401\" auth=\"true\"/>\n" + subscribe(2, credentials: true) }
        body += "\n  <recv response=\"\(code)\"/>\n"
        let xml = """
            <?xml version="1.0" encoding="ISO-8859-1" ?>
            <!DOCTYPE scenario SYSTEM "sipp.dtd">
            <scenario name="\(name)">
            \(body)
            </scenario>
            """
        let file = dir.appendingPathComponent("\(name).xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @Test func everyRefusalHasItsCode() async throws {
        let mwid = try await RunningMWID("sub-refusals")
        defer { mwid.stop() }
        try await provision(mwid)
        let cases: [(name: String, service: String, credentials: [String], event: String, expires: Int, code: Int, shows: String)] = [
            ("wrong-password", "1234", ["-au", "1234", "-ap", "guess"], "message-summary", 3600, 403, "wrong credentials"),
            ("bobs-credentials", "1234", ["-au", "1235", "-ap", "bobs"], "message-summary", 3600, 403, "another mailbox"),
            ("unknown-event", "1234", [], "presence", 3600, 489, "Allow-Events: message-summary"),
            ("unknown-mailbox", "9999", ["-au", "9999", "-ap", "guess"], "message-summary", 3600, 404, "no mailbox for sip:9999@"),
            ("too-brief", "1234", [], "message-summary", 10, 423, "Min-Expires: 60"),
        ]
        for c in cases {
            let scenario = try refusalScenario(c.name, in: mwid.directory, event: c.event, expires: c.expires,
                                               authenticate: !c.credentials.isEmpty, code: c.code)
            let phone = try Peers.sipp(scenario, port: try await Peers.freePortBoth(), transport: "u1",
                                       remote: "127.0.0.1:\(mwid.sipPort)", service: c.service, extra: c.credentials, in: mwid.directory)
            #expect(await phone.waitForExit() == 0, "\(c.name): \(phone.log)")
            let answer = Peers.sippMessages(mwid.directory.appendingPathComponent("\(c.name).xml.msg")).last ?? ""
            #expect(answer.hasPrefix("SIP/2.0 \(c.code)") && answer.contains(c.shows), "\(c.name): \(answer)")
        }
        #expect(try await subscriptions(mwid).isEmpty)
        #expect(try await subscriptions(mwid, "bob@example.com").isEmpty)
    }

    @Test func aNonceReusedWithAGrowingCountIsAccepted() async throws {
        let mwid = try await RunningMWID("sub-reuse")
        defer { mwid.stop() }
        try await provision(mwid)
        // SIPp answers the second SUBSCRIBE with the nonce it has, counting up (nc=00000002)
        // as RFC 7616 allows: no new challenge needed.
        let port = try await Peers.freePortBoth()
        let phone = try Peers.sipp("uac_subscribe_reuse.xml", port: port, transport: "u1", remote: "127.0.0.1:\(mwid.sipPort)",
                                   extra: ["-au", "1234", "-ap", "secret"], in: mwid.directory)
        #expect(await phone.waitForExit() == 0, "\(phone.log)")
        let messages = Peers.sippMessages(mwid.directory.appendingPathComponent("uac_subscribe_reuse.xml.msg"))
        #expect(messages.contains { $0.contains("nc=00000002") }, "SIPp counted the nonce up")
        #expect(try await waitForSubscriptions(mwid, count: 2).count == 2)
    }

    @Test func replayedCredentialsAreChallengedNotAdmitted() async throws {
        let mwid = try await RunningMWID("sub-replay")
        defer { mwid.stop() }
        try await provision(mwid)
        let socket = try UDPSocket()
        let uri = SIPURI(user: "1234", host: "127.0.0.1", port: UInt16(mwid.sipPort))
        func subscribe(cseq: UInt32, fromTag: String, authorization: String?) -> String? {
            let request = SIPMessage.request(
                method: .subscribe, uri: uri,
                via: SIPVia(transport: "UDP", host: "127.0.0.1", port: UInt16(socket.port), branch: SIPIdentifiers.branch()),
                from: SIPNameAddress(uri: uri, parameters: [("tag", fromTag)]), to: SIPNameAddress(uri: uri),
                callID: "replay-\(fromTag)", cseq: cseq,
                contact: SIPNameAddress(uri: SIPURI(user: "phone", host: "127.0.0.1", port: UInt16(socket.port))),
                headers: [(.event, "message-summary"), (.expires, "3600")] + (authorization.map { [(.authorization, $0)] } ?? []))
            socket.send(String(decoding: request.serialize(), as: UTF8.self), toPort: mwid.sipPort)
            return socket.receive { $0.hasPrefix("SIP/2.0 ") && $0.contains("\(cseq) SUBSCRIBE") }
        }
        let challenge = try #require(subscribe(cseq: 1, fromTag: "phone", authorization: nil))
        let parsed = try SIPParser.parseDatagram(Array(challenge.utf8))
        let digest = try #require(try parsed.wwwAuthenticate().compactMap { try? DigestChallenge($0) }.first)
        var rng = SystemRandomNumberGenerator()
        let credentials = SIPDigest.answer(digest, method: .subscribe, uri: uri.description, username: "1234", password: "secret",
                                           cnonce: SIPDigest.makeCNonce(using: &rng)).header.description
        let admitted = try #require(subscribe(cseq: 2, fromTag: "phone", authorization: credentials))
        #expect(admitted.hasPrefix("SIP/2.0 200 OK"), "\(admitted)")
        // An eavesdropper sends the very same credentials for a dialog of its own.
        let replayed = try #require(subscribe(cseq: 1, fromTag: "thief", authorization: credentials))
        #expect(replayed.hasPrefix("SIP/2.0 401"), "\(replayed)")
        #expect(try await subscriptions(mwid).count == 1)
    }

    @Test func aSubscriberAnswering481IsForgotten() async throws {
        let mwid = try await RunningMWID("sub-481")
        defer { mwid.stop() }
        try await provision(mwid)
        let phone = try Peers.sipp("uac_subscribe_481.xml", port: try await Peers.freePortBoth(), transport: "u1",
                                   remote: "127.0.0.1:\(mwid.sipPort)", extra: ["-au", "1234", "-ap", "secret"], in: mwid.directory)
        #expect(await phone.waitForExit() == 0, "\(phone.log)")
        let deadline = ContinuousClock.now + .seconds(10)
        var events = ""
        while ContinuousClock.now < deadline {
            events = try await mwid.mwictl(["events", "--subject", "alice@example.com"]).out
            if events.contains("subscription.ended") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(events.contains("answered 481"), "\(events)")
        #expect(try await subscriptions(mwid).isEmpty)
    }

    @Test func aRestartKeepsTheSubscriptionAndCatchesThePhoneUp() async throws {
        let mwid = try await RunningMWID("sub-restart", arguments: ["--mwi-notify-interval", "0"])
        try await provision(mwid)
        try await deposit(mwid)
        let phone = try Peers.sipp("uac_subscribe_wait.xml", port: try await Peers.freePortBoth(), transport: "u1",
                                   remote: "127.0.0.1:\(mwid.sipPort)", extra: ["-au", "1234", "-ap", "secret"], in: mwid.directory)
        defer { phone.stop() }
        let before = try await waitForSubscriptions(mwid, count: 1)
        mwid.stop(signal: "KILL")
        // A new process on the same data: the subscription is re-armed and the phone told
        // the state at once (changes it might have missed), without subscribing again.
        let again = try await RunningMWID("sub-restart", in: mwid.directory, arguments: ["--mwi-notify-interval", "0"])
        defer { again.stop() }
        #expect(await phone.waitForExit() == 0, "\(phone.log)")
        let after = try await subscriptions(again)
        #expect(after.map { $0["id"] as? String } == before.map { $0["id"] as? String }, "the same subscription, re-armed")
        let sent = notifies(Peers.sippMessages(mwid.directory.appendingPathComponent("uac_subscribe_wait.xml.msg")))
        try #require(sent.count == 2, "\(sent)")
        #expect(sent[1].contains("Via: SIP/2.0/UDP 127.0.0.1:\(again.sipPort)"), "from the restarted mwid\n\(sent[1])")
        #expect(sent[1].contains("Messages-Waiting: yes") && sent[1].contains("Subscription-State: active;expires="))
        #expect(!sent[1].contains("CSeq: 1 NOTIFY"), "a restart never reuses a CSeq")
        let sameDialog = sent.map { text in text.split(separator: "\n").first { $0.hasPrefix("From:") } }
        #expect(sameDialog[0] == sameDialog[1], "the same dialog: the same From tag")
    }

    @Test func anAdministratorEndsASubscription() async throws {
        let mwid = try await RunningMWID("sub-end")
        defer { mwid.stop() }
        try await provision(mwid)
        let phone = try Peers.sipp("uac_subscribe_wait.xml", port: try await Peers.freePortBoth(), transport: "u1",
                                   remote: "127.0.0.1:\(mwid.sipPort)", extra: ["-au", "1234", "-ap", "secret"], in: mwid.directory)
        defer { phone.stop() }
        let live = try await waitForSubscriptions(mwid, count: 1)
        let id = try #require(live.first?["id"] as? String)
        let table = try await mwid.mwictl(["mailbox", "subscriptions", "alice@example.com"])
        #expect(table.status == 0 && table.out.contains(id) && table.out.contains("digest 1234"), "\(table.out)")
        let unknown = try await mwid.mwictl(["mailbox", "subscriptions", "alice@example.com", "--end", "0000000000000000"])
        #expect(unknown.status != 0 && unknown.err.contains("does not exist"), "\(unknown.err)")
        let ended = try await mwid.mwictl(["mailbox", "subscriptions", "alice@example.com", "--end", id])
        #expect(ended.status == 0 && ended.out.contains("ended 1"), "\(ended)")
        #expect(await phone.waitForExit() == 0, "\(phone.log)")
        let final = notifies(Peers.sippMessages(mwid.directory.appendingPathComponent("uac_subscribe_wait.xml.msg"))).last ?? ""
        #expect(final.contains("Subscription-State: terminated;reason=deactivated"), "\(final)")
        #expect(try await subscriptions(mwid).isEmpty)
        let events = try await mwid.mwictl(["events", "--subject", "alice@example.com"])
        #expect(events.out.contains("ended by an administrator"))
        let missing = try await mwid.mwictl(["mailbox", "subscriptions", "nobody@example.com"])
        #expect(missing.status != 0 && missing.err.contains("nobody@example.com"))
    }

    /// Starts baresip and waits until it has subscribed. baresip 1.0.0 (Debian's) has a
    /// start-up race in mwi.so (../shared/peers/REPORT.md §2): when the REGISTER's 200
    /// arrives before the module's 1 ms start-up timer fires, the timer's handler walks the
    /// list it appends to and never returns, logging "mwi: subscribing" thousands of times
    /// (and sending mwid over a hundred requests: its flood guard then refused the next
    /// phone's REGISTER). A prompt loopback registrar such as mwid sometimes wins that race. And the
    /// SIP port found free for the phone may be taken by another test's peer before the
    /// phone binds it: baresip then logs "Address already in use" and exits. In both cases
    /// the phone is started again (at most three times, on a new port), because the fault
    /// is not mwid's; otherwise the phone's log says why it never subscribed.
    func startBaresip(_ baresip: String, conf: URL, mwid: RunningMWID,
                      configure: (_ sipPort: Int) throws -> Void) async throws -> PeerProcess {
        for attempt in 1...3 {
            try configure(try await Peers.freePortBoth())
            let phone = try PeerProcess("baresip-\(attempt)", baresip, ["-f", conf.path], in: mwid.directory, limit: 60)
            let deadline = ContinuousClock.now + .seconds(20)
            var retry: String?
            while ContinuousClock.now < deadline {
                if try await subscriptions(mwid).count == 1 { return phone }
                if phone.log.components(separatedBy: "mwi: subscribing").count > 3 {
                    retry = "mwi.so's start-up loop (baresip 1.0.0's race)"
                } else if !phone.process.isRunning, phone.log.contains("Address already in use") {
                    retry = "its SIP port was taken meanwhile"
                }
                if retry != nil { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            guard let retry else {
                phone.stop()
                throw PeerError("baresip did not subscribe within 20 s; its log:\n\(phone.log)")
            }
            print("baresip attempt \(attempt): \(retry); starting it again")
            phone.stop(signal: "KILL")
        }
        throw PeerError("baresip could not be started three times running (see the baresip-N.out logs in \(mwid.directory.path))")
    }

    @Test func baresipShowsTheWaitingStateAfterADeposit() async throws {
        guard let baresip = Peers.executable("baresip") else {
            Issue.record("baresip is not installed (apt-get install baresip-core)")
            return
        }
        // A phone caught in mwi.so's start-up loop sends requests as fast as it can: the
        // flood guard rightly refuses 127.0.0.1 afterwards, and the phone started again in
        // its place would have its REGISTER refused (503, Retry-After) and give up. The
        // guard has tests of its own; here it is set out of the way.
        let mwid = try await RunningMWID("sub-baresip", arguments: ["--mwi-notify-interval", "0",
                                                                    "--sip-request-rate", "100000", "--sip-request-burst", "100000"])
        defer { mwid.stop() }
        try await provision(mwid)
        let conf = mwid.directory.appendingPathComponent("baresip")
        try FileManager.default.createDirectory(at: conf, withIntermediateDirectories: true)
        try "<sip:1234@127.0.0.1:\(mwid.sipPort);transport=udp>;auth_pass=secret;regint=600;mwi=yes;answermode=manual\n"
            .write(to: conf.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
        try "".write(to: conf.appendingPathComponent("contacts"), atomically: true, encoding: .utf8)
        let phone = try await startBaresip(baresip, conf: conf, mwid: mwid) { sipPort in
            try """
                poll_method\t\tepoll
                sip_listen\t\t127.0.0.1:\(sipPort)
                dns_server\t\t127.0.0.1:53
                net_interface\t\t127.0.0.1
                audio_player\t\tnone
                audio_source\t\tnone
                audio_alert\t\tnone
                module_path\t\t/usr/lib/baresip/modules
                module_tmp\t\tuuid.so
                module_tmp\t\taccount.so
                module_app\t\tmenu.so
                module_app\t\tmwi.so

                """.write(to: conf.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        }
        defer { phone.stop() }
        let live = try await waitForSubscriptions(mwid, count: 1)
        #expect(live.first?["subscriber"] as? String == "digest 1234")
        try await deposit(mwid)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, !phone.log.contains("Messages-Waiting: yes") {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(phone.log.contains("----- MWI for sip:1234@127.0.0.1:\(mwid.sipPort)"), "\(phone.log)")
        #expect(phone.log.contains("Messages-Waiting: yes") && phone.log.contains("Voice-Message: 1/0 (0/0)"), "\(phone.log)")
    }
}
