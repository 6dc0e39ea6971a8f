import Foundation
import TestSupport
import Testing

/// Text messages from a running mwid to real SMS peers: an SMPP 3.4 SMSC (smsc_sim.py on
/// smpp34), Kannel's sendsms with its fake SMSC, and aiosmtpd as an email-to-SMS gateway;
/// set up, verified and driven through mwictl as an administrator does.
@Suite(.serialized) struct SMSDeliveryTests {
    /// Dial plan Paris (France), a policy that allows texts, one that does not.
    func provision(_ mwid: RunningMWID) async throws {
        for step in [["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4", "--country-or-region-code", "33"],
                     ["policy", "new", "Default", "--dial-plan", "Paris"],
                     ["policy", "new", "NoSMS", "--dial-plan", "Paris", "--allow-sms-notification", "false"]] {
            let r = try await mwid.mwictl(step)
            try #require(r.status == 0, "\(step): \(r.err)")
        }
    }

    func mailbox(_ mwid: RunningMWID, _ identity: String, _ ext: String, option: String, policy: String = "Default") async throws {
        let r = try await mwid.mwictl(["mailbox", "new", identity, "--extension", ext, "--dial-plan", "Paris", "--policy", policy,
                                       "--um-sms-notification-option", option])
        try #require(r.status == 0, "\(r.err)")
    }

    func json(_ text: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }

    func history(_ mwid: RunningMWID, _ identity: String) async throws -> [[String: Any]] {
        let r = try await mwid.mwictl(["mailbox", "sms", "history", identity, "--json"])
        return json(r.out) as? [[String: Any]] ?? []
    }

    func status(_ mwid: RunningMWID, _ identity: String) async throws -> [String: Any] {
        json(try await mwid.mwictl(["mailbox", "sms", "status", identity, "--json"]).out) as? [String: Any] ?? [:]
    }

    /// The submits the SMSC accepted or refused for `number` (digits, without +).
    func submits(_ log: URL, to number: String) -> [[String: Any]] {
        Peers.smscEvents(log).filter { $0["event"] as? String == "submit_sm" && $0["dst"] as? String == number }
    }

    /// The six-digit code in the newest text of `texts`.
    func code(in texts: [String]) -> String? {
        texts.last.flatMap { text in text.firstMatch(of: /(\d{6})/).map { String($0.1) } }
    }

    /// Sets up and verifies `number` for `identity` through an SMPP SMSC whose log is `log`.
    func verify(_ mwid: RunningMWID, _ identity: String, number: String, log: URL) async throws {
        let digits = String(number.filter(\.isNumber))
        let before = submits(log, to: digits).count
        let setup = try await mwid.mwictl(["mailbox", "sms", "setup", identity, "--locale", "fr-FR", "--carrier", "Orange", "--number", number])
        try #require(setup.status == 0, "\(setup.err)")
        try #require(await Peers.eventually { submits(log, to: digits).count > before })
        let passcode = try #require(code(in: submits(log, to: digits).compactMap { $0["text"] as? String }))
        let verified = try await mwid.mwictl(["mailbox", "sms", "verify", identity, "--code", passcode])
        try #require(verified.status == 0, "\(verified.err)")
    }

    func catalog(_ dir: URL, smscPort: Int, enquireLinkInterval: Int = 30) throws -> URL {
        let file = dir.appendingPathComponent("carriers.yaml")
        try """
            routes:
              - { name: smsc, kind: smpp, host: 127.0.0.1, port: \(smscPort), systemId: mwid, password: secret, sourceAddress: Voicemail,
                  enquireLinkInterval: \(enquireLinkInterval) }
            carriers:
              fr-FR:
                - { name: Orange, route: smsc }
            """.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func smppSetupVoiceMailInPartsMissedCallAndReceipts() async throws {
        let dir = try Peers.workDirectory("sms-smpp")
        let port = try await Peers.freePort(udp: false)
        let smsc = try await Peers.smsc(port: port, in: dir)
        defer { smsc.process.stop() }
        let mwid = try await RunningMWID("sms-smpp", in: dir, arguments: [
            "--sms-carriers", try catalog(dir, smscPort: port, enquireLinkInterval: 1).path,
        ])
        defer { mwid.stop() }
        try await provision(mwid)
        try await mailbox(mwid, "alice@example.com", "1234", option: "VoiceMailAndMissedCalls")

        // The passcode goes to the number the user typed, in E.164.
        let setup = try await mwid.mwictl(["mailbox", "sms", "setup", "alice@example.com", "--locale", "fr-FR", "--carrier", "Orange",
                                           "--number", "06 12 34 56 78"])
        #expect(setup.status == 0, "\(setup.err)")
        #expect(await Peers.eventually { submits(smsc.log, to: "33612345678").count == 1 })
        let passcodeText = submits(smsc.log, to: "33612345678").first?["text"] as? String ?? ""
        let passcode = try #require(code(in: [passcodeText]))
        #expect(passcodeText.contains("expire dans 15 minutes"))
        #expect(!mwid.process.log.contains(passcode), "the code is never logged")
        let wrong = try await mwid.mwictl(["mailbox", "sms", "verify", "alice@example.com", "--code", passcode == "000000" ? "111111" : "000000"])
        #expect(wrong.status != 0 && wrong.err.contains("passcode is wrong (4 tries left)"), "\(wrong.err)")
        #expect(try await mwid.mwictl(["mailbox", "sms", "verify", "alice@example.com", "--code", passcode]).status == 0)
        let shown = try await mwid.mwictl(["mailbox", "sms", "status", "alice@example.com"])
        #expect(shown.out.contains("verified") && shown.out.contains("+336••••••78") && !shown.out.contains("612345678"), "\(shown.out)")

        // A long voice-mail preview: three concatenated GSM parts, one reference, in order.
        let transcript = "Bonjour Alice, c'est Paul au sujet du contrat de maintenance. " + String(repeating: "Rappelle-moi vite. ", count: 30)
        let deposit = try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "+33142685300", "--duration", "42",
                                             "--transcript", transcript])
        #expect(deposit.status == 0, "\(deposit.err)")
        #expect(await Peers.eventually { submits(smsc.log, to: "33612345678").count == 4 })
        let parts = Array(submits(smsc.log, to: "33612345678").dropFirst())
        #expect(parts.allSatisfy { $0["esm_class"] as? Int == 64 && $0["data_coding"] as? Int == 0 && $0["src"] as? String == "Voicemail" })
        let headers = parts.compactMap { $0["udh"] as? String }
        #expect(headers.count == 3 && Set(headers.map { $0.prefix(8) }).count == 1 && headers.map { String($0.suffix(4)) } == ["0301", "0302", "0303"],
                "\(headers)")
        let joined = parts.compactMap { $0["text"] as? String }.joined()
        #expect(joined.hasPrefix("Message vocal de 01 42 68 53 00 à ") && joined.contains("(0:42) : Bonjour Alice, c'est Paul"), "\(joined)")
        #expect(joined.hasSuffix("...") && joined.count == 459)

        // A missed call reported by extension: its own text.
        let missed = try await mwid.mwictl(["call", "missed", "--extension", "1234", "--dial-plan", "Paris", "--from", "0611223344"])
        #expect(missed.status == 0, "\(missed.err)")
        #expect(await Peers.eventually { submits(smsc.log, to: "33612345678").count == 5 })
        #expect((submits(smsc.log, to: "33612345678").last?["text"] as? String)?.hasPrefix("Appel manqué de 06 11 22 33 44 à ") == true)
        let calls = json(try await mwid.mwictl(["mailbox", "missedcalls", "alice@example.com", "--json"]).out) as? [[String: Any]]
        #expect(calls?.count == 1 && calls?.first?["from"] as? String == "0611223344")

        // The transceiver bind gets the SMSC's delivery receipts: both texts end delivered.
        let delivered = try await Peers.eventually {
            let texts = try await history(mwid, "alice@example.com")
            return texts.count == 2 && texts.allSatisfy { $0["status"] as? String == "delivered" }
        }
        let texts = try await history(mwid, "alice@example.com")
        #expect(delivered, "\(texts)")
        // Idle, the bind is kept alive by enquire_links the SMSC answers (one unanswered would close it).
        #expect(try await Peers.eventually {
            (try await mwid.metric("mwid_sms_smpp_enquire_links_total", #"result="answered""#) ?? 0) >= 2
        })
        #expect(try await mwid.metric("mwid_sms_smpp_enquire_links_total", #"result="unanswered""#) ?? 0 == 0)
        #expect(try await mwid.metric("mwid_sms_smpp_binds_total") == 1)
        #expect(Peers.smscEvents(smsc.log).filter { $0["event"] as? String == "bind" }.count == 1, "one bind for everything")
    }

    @Test func setupLimitsExpiryLockOutAndResend() async throws {
        let dir = try Peers.workDirectory("sms-setup")
        let port = try await Peers.freePort(udp: false)
        let smsc = try await Peers.smsc(port: port, in: dir)
        defer { smsc.process.stop() }
        let mwid = try await RunningMWID("sms-setup", in: dir, arguments: ["--sms-carriers", try catalog(dir, smscPort: port).path,
                                                                            "--sms-code-lifetime", "3"])
        defer { mwid.stop() }
        try await provision(mwid)
        try await mailbox(mwid, "alice@example.com", "1234", option: "VoiceMail")
        try await mailbox(mwid, "carol@example.com", "1236", option: "VoiceMail")
        let setupAlice = ["mailbox", "sms", "setup", "alice@example.com", "--locale", "fr-FR", "--carrier", "Orange", "--number", "0700000001"]
        func aliceCodes() -> [String] { submits(smsc.log, to: "33700000001").compactMap { $0["text"] as? String } }

        // Carol's code expires unused.
        #expect(try await mwid.mwictl(["mailbox", "sms", "setup", "carol@example.com", "--locale", "fr-FR", "--carrier", "Orange",
                                       "--number", "0700000003"]).status == 0)
        #expect(await Peers.eventually { submits(smsc.log, to: "33700000003").count == 1 })
        let carolCode = try #require(code(in: submits(smsc.log, to: "33700000003").compactMap { $0["text"] as? String }))

        // Alice types five wrong codes: the set-up is cancelled, even the right code is refused.
        #expect(try await mwid.mwictl(setupAlice).status == 0)
        #expect(await Peers.eventually { aliceCodes().count == 1 })
        let first = try #require(code(in: aliceCodes()))
        let wrong = first == "000000" ? "111111" : "000000"
        for _ in 0..<4 { #expect(try await mwid.mwictl(["mailbox", "sms", "verify", "alice@example.com", "--code", wrong]).status != 0) }
        let locked = try await mwid.mwictl(["mailbox", "sms", "verify", "alice@example.com", "--code", wrong])
        #expect(locked.status != 0 && locked.err.contains("too many wrong passcodes"), "\(locked.err)")
        let after = try await mwid.mwictl(["mailbox", "sms", "verify", "alice@example.com", "--code", first])
        #expect(after.status != 0 && after.err.contains("no SMS set-up is waiting"), "\(after.err)")

        #expect(await Peers.eventually(timeout: .seconds(10)) {
            ((try? await status(mwid, "carol@example.com"))?["pending"] as? [String: Any])?["expired"] as? Bool == true
        })
        let expired = try await mwid.mwictl(["mailbox", "sms", "verify", "carol@example.com", "--code", carolCode])
        #expect(expired.status != 0 && expired.err.contains("expired"), "\(expired.err)")

        // Resend: a new code each time, the old one dead; five passcodes an hour at most.
        #expect(try await mwid.mwictl(setupAlice).status == 0)  // 2nd passcode this hour
        for sent in 3...5 {
            #expect(try await mwid.mwictl(["mailbox", "sms", "resend", "alice@example.com"]).status == 0)
            #expect(await Peers.eventually { aliceCodes().count == sent })
        }
        let refused = try await mwid.mwictl(["mailbox", "sms", "resend", "alice@example.com"])
        #expect(refused.status != 0 && refused.err.contains("too many passcodes sent in the last hour") && refused.err.contains("429"),
                "\(refused.err)")
        #expect(aliceCodes().count == 5)
        let codes = aliceCodes().compactMap { code(in: [$0]) }
        let last = try #require(codes.last)
        if codes[codes.count - 2] != last {
            #expect(try await mwid.mwictl(["mailbox", "sms", "verify", "alice@example.com", "--code", codes[codes.count - 2]]).status != 0)
        }
        let ok = try await mwid.mwictl(["mailbox", "sms", "verify", "alice@example.com", "--code", last])
        #expect(ok.status == 0, "\(ok.err)")

        // Turned off: nothing is sent for the next message.
        #expect(try await mwid.mwictl(["mailbox", "sms", "disable", "alice@example.com"]).status == 0)
        #expect(try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "1", "--duration", "1"]).status == 0)
        #expect(try await history(mwid, "alice@example.com").isEmpty)
        #expect(try await status(mwid, "alice@example.com")["state"] as? String == "off")
    }

    @Test func policyOptionMatrixAndQuietHours() async throws {
        let dir = try Peers.workDirectory("sms-matrix")
        let port = try await Peers.freePort(udp: false)
        let smsc = try await Peers.smsc(port: port, in: dir)
        defer { smsc.process.stop() }
        let mwid = try await RunningMWID("sms-matrix", in: dir, arguments: ["--sms-carriers", try catalog(dir, smscPort: port).path])
        defer { mwid.stop() }
        try await provision(mwid)
        let users: [(String, String, String, String)] = [
            ("none@example.com", "1001", "None", "Default"), ("voice@example.com", "1002", "VoiceMail", "Default"),
            ("both@example.com", "1003", "VoiceMailAndMissedCalls", "Default"),
            ("barred@example.com", "1004", "VoiceMailAndMissedCalls", "NoSMS"), ("quiet@example.com", "1005", "VoiceMail", "Default"),
        ]
        for (index, (identity, ext, option, policy)) in users.enumerated() {
            try await mailbox(mwid, identity, ext, option: option, policy: policy)
            try await verify(mwid, identity, number: "+3370000010\(index)", log: smsc.log)
        }
        // Quiet hours around now (UTC): quiet's text waits for their end.
        let calendar = Calendar(identifier: .gregorian)
        let now = Date()
        var utc = calendar
        utc.timeZone = TimeZone(identifier: "UTC")!
        func hhmm(_ date: Date) -> String {
            let c = utc.dateComponents([.hour, .minute], from: date)
            return String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
        }
        let end = now.addingTimeInterval(3 * 3600)
        #expect(try await mwid.mwictl(["mailbox", "sms", "set", "quiet@example.com", "--quiet-hours", "\(hhmm(now.addingTimeInterval(-3600)))-\(hhmm(end))",
                                       "--time-zone", "UTC"]).status == 0)
        for (identity, ext, _, _) in users {
            #expect(try await mwid.mwictl(["message", "deposit", identity, "--from", "+33142685300", "--duration", "3"]).status == 0)
            #expect(try await mwid.mwictl(["call", "missed", "--extension", ext, "--dial-plan", "Paris", "--from", "+33142685300"]).status == 0)
        }
        // voice: its voice mail; both: voice mail and missed call; none, barred: nothing; quiet: held.
        #expect(await Peers.eventually { submits(smsc.log, to: "33700000102").count == 3 })
        #expect(await Peers.eventually { submits(smsc.log, to: "33700000101").count == 2 })
        let sentToBoth = submits(smsc.log, to: "33700000102").dropFirst().compactMap { $0["text"] as? String }
        #expect(sentToBoth.contains { $0.hasPrefix("Message vocal de 01 42 68 53 00") } && sentToBoth.contains { $0.hasPrefix("Appel manqué de 01 42 68 53 00") })
        #expect(try await history(mwid, "none@example.com").isEmpty)
        #expect(try await history(mwid, "barred@example.com").isEmpty)
        let held = try await history(mwid, "quiet@example.com")
        #expect(held.count == 1 && held.first?["status"] as? String == "queued", "\(held)")
        #expect((held.first?["notBefore"] as? String)?.contains("T\(hhmm(end)):00") == true, "\(held)")
        #expect(submits(smsc.log, to: "33700000104").count == 1, "only the passcode went to quiet")
        let status = try await status(mwid, "barred@example.com")
        #expect((status["active"] as? [String: Any])?["reason"] as? String == "mailbox policy NoSMS does not allow SMS notification")
    }

    @Test func throttlingRefusalsAndADroppedSMSCAreSurvived() async throws {
        let dir = try Peers.workDirectory("sms-throttle")
        let port = try await Peers.freePort(udp: false)
        var smsc = try await Peers.smsc(port: port, throttleFirst: 3, in: dir)
        defer { smsc.process.stop() }
        let mwid = try await RunningMWID("sms-throttle", in: dir, arguments: [
            "--sms-carriers", try catalog(dir, smscPort: port).path, "--sms-throttle-delay", "0.05", "--sms-reconnect-backoff", "0.05",
            "--sms-retry-backoff", "0.2",
        ])
        defer { mwid.stop() }
        try await provision(mwid)
        try await mailbox(mwid, "alice@example.com", "1234", option: "VoiceMail")
        // The first three submits are throttled: the bind pauses and the passcode goes on the fourth.
        try await verify(mwid, "alice@example.com", number: "+33612345678", log: smsc.log)
        let events = submits(smsc.log, to: "33612345678")
        #expect(events.map { $0["result"] as? String ?? "" } == ["reject", "reject", "reject", "accept"])

        // A number the SMSC refuses: the set-up says so and nothing is pending silently.
        try await mailbox(mwid, "bob@example.com", "1235", option: "VoiceMail")
        let refused = try await mwid.mwictl(["mailbox", "sms", "setup", "bob@example.com", "--locale", "fr-FR", "--carrier", "Orange",
                                             "--number", "+9991234567"])
        #expect(refused.status != 0 && refused.err.contains("ESME_RINVDSTADR") && refused.err.contains("502"), "\(refused.err)")

        // The SMSC goes away; a text queued meanwhile is retried and goes once it is back.
        smsc.process.stop(signal: "KILL")
        #expect(try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "+33142685300", "--duration", "3"]).status == 0)
        #expect(try await Peers.eventually {
            (try await history(mwid, "alice@example.com").first?["attempts"] as? Int ?? 0) >= 1
        })
        let waiting = try await history(mwid, "alice@example.com").first
        // Waiting for its next try, or on it (the backoff is short here).
        #expect(["queued", "sending"].contains(waiting?["status"] as? String ?? "") && (waiting?["lastError"] as? String)?.contains("connect") == true,
                "\(String(describing: waiting))")
        let submittedBefore = submits(smsc.log, to: "33612345678").count
        smsc = try await Peers.smsc(port: port, in: dir)
        let sent = try await Peers.eventually {
            ["sent", "delivered"].contains(try await history(mwid, "alice@example.com").first?["status"] as? String ?? "")
        }
        let texts = try await history(mwid, "alice@example.com")
        #expect(sent, "\(texts)")
        #expect(submits(smsc.log, to: "33612345678").count == submittedBefore + 1, "sent once after the reconnection")
    }

    @Test func smppOverTLSVerifiesTheSMSC() async throws {
        let dir = try Peers.workDirectory("sms-smpp-tls")
        let pki = try TestPKI(), stranger = try TestPKI(name: "not the SMSC's CA")
        defer { pki.remove(); stranger.remove() }
        let port = try await Peers.freePort(udp: false), tlsPort = try await Peers.freePort(udp: false)
        let smsc = try await Peers.smsc(port: port, in: dir)
        defer { smsc.process.stop() }
        // The SMSC behind TLS (stunnel, the certificate naming 127.0.0.1).
        let tunnel = try Peers.stunnel(accept: tlsPort, connect: port, client: false, pki: pki, in: dir)
        defer { tunnel.stop() }
        try await Peers.waitUntilListening(port: tlsPort, udp: false, process: tunnel)
        let mwid = try await RunningMWID("sms-smpp-tls", in: dir)
        defer { mwid.stop() }
        try await provision(mwid)
        for (name, ca) in [("smsc-tls", pki.caFile), ("smsc-untrusted", stranger.caFile)] {
            let r = try await mwid.mwictl(["sms", "route", "new", name, "--kind", "smpp", "--host", "127.0.0.1", "--port", "\(tlsPort)",
                                           "--tls", "true", "--ca-file", ca, "--system-id", "mwid", "--password", "secret"])
            try #require(r.status == 0, "\(r.err)")
        }
        #expect(try await mwid.mwictl(["sms", "carrier", "new", "fr-FR", "Orange", "--route", "smsc-tls"]).status == 0)
        #expect(try await mwid.mwictl(["sms", "carrier", "new", "fr-FR", "Untrusted", "--route", "smsc-untrusted"]).status == 0)
        try await mailbox(mwid, "alice@example.com", "1234", option: "VoiceMail")
        try await verify(mwid, "alice@example.com", number: "+33612345678", log: smsc.log)
        #expect(try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "+33142685300", "--duration", "3"]).status == 0)
        #expect(await Peers.eventually { submits(smsc.log, to: "33612345678").count == 2 })
        #expect((submits(smsc.log, to: "33612345678").last?["text"] as? String)?.hasPrefix("Message vocal de 01 42 68 53 00") == true)

        // A certificate from a CA the route does not trust: nothing reaches the SMSC.
        let binds = { Peers.smscEvents(smsc.log).filter { $0["event"] as? String == "bind" }.count }
        let before = binds()
        let refused = try await mwid.mwictl(["mailbox", "sms", "setup", "alice@example.com", "--locale", "fr-FR", "--carrier", "Untrusted",
                                             "--number", "+33611111111"])
        #expect(refused.status != 0 && refused.err.contains("502") && refused.err.lowercased().contains("certificate"), "\(refused.err)")
        #expect(binds() == before && submits(smsc.log, to: "33611111111").isEmpty)
    }

    @Test func kannelCarriesTheTextsOverHTTP() async throws {
        let dir = try Peers.workDirectory("sms-kannel")
        let kannel = try await Peers.kannel(in: dir)
        defer { kannel.stop() }
        let mwid = try await RunningMWID("sms-kannel", in: dir)
        defer { mwid.stop() }
        try await provision(mwid)
        let sendsms = "http://127.0.0.1:\(kannel.sendsmsPort)/cgi-bin/sendsms"
        for route in [
            ["kannel", "--url", "\(sendsms)?username={username}&password={password}&to={to}&text={text}&from={from}&charset=UTF-8&coding={coding}",
             "--username", "mwi", "--password", "secret", "--source-address", "12345", "--success-pattern", "^0: Accepted"],
            ["badpass", "--url", "\(sendsms)?username=mwi&password=wrong&to={to}&text={text}"],
        ] {
            let r = try await mwid.mwictl(["sms", "route", "new", route[0], "--kind", "http"] + route.dropFirst())
            try #require(r.status == 0, "\(r.err)")
        }
        // Kannel's POST form: the text is the body, the rest X-Kannel-* headers (docs/sms.md).
        let post = try await mwid.mwictl(["sms", "route", "new", "kannel-post", "--kind", "http", "--method", "POST", "--url", sendsms,
                                          "--body", "{text}", "--header", "X-Kannel-Username: mwi", "--header", "X-Kannel-Password: secret",
                                          "--header", "X-Kannel-To: {to}", "--header", "X-Kannel-From: {from}",
                                          "--header", "Content-Type: text/plain; charset=UTF-8",
                                          "--source-address", "54321", "--success-pattern", "^0: Accepted"])
        try #require(post.status == 0, "\(post.err)")
        let malformed = try await mwid.mwictl(["sms", "route", "set", "kannel-post", "--header", "no colon"])
        #expect(malformed.status != 0 && malformed.err.contains("--header must be NAME: VALUE"), "\(malformed.err)")
        for (name, route) in [("Kannel Mobile", "kannel"), ("Broken", "badpass"), ("Kannel Post", "kannel-post")] {
            #expect(try await mwid.mwictl(["sms", "carrier", "new", "fr-FR", name, "--route", route]).status == 0)
        }
        try await mailbox(mwid, "bob@example.com", "1235", option: "VoiceMail")

        let setup = try await mwid.mwictl(["mailbox", "sms", "setup", "bob@example.com", "--locale", "fr-FR", "--carrier", "Kannel Mobile",
                                           "--number", "06 98 76 54 32"])
        #expect(setup.status == 0, "\(setup.err)")
        #expect(await Peers.eventually { kannel.received.contains("+33698765432 text Votre code") })
        let line = kannel.received.split(separator: "\n").last { $0.contains("Votre code") }.map(String.init) ?? ""
        #expect(line.contains("<12345 +33698765432 text "), "\(line)")
        let passcode = try #require(code(in: [line.components(separatedBy: " text ").last ?? ""]))
        #expect(try await mwid.mwictl(["mailbox", "sms", "verify", "bob@example.com", "--code", passcode]).status == 0)

        // A character outside GSM 03.38 (ô): UCS-2, which fakesmsc prints URL-encoded UTF-16.
        #expect(try await mwid.mwictl(["message", "deposit", "bob@example.com", "--from", "+33142685300", "--duration", "7",
                                       "--transcript", "À bientôt"]).status == 0)
        #expect(await Peers.eventually { kannel.received.contains("ucs-2") })
        let ucs = kannel.received.split(separator: "\n").last { $0.contains("ucs-2") }.map(String.init) ?? ""
        let payload = String((ucs.components(separatedBy: " ucs-2 ").last ?? "").dropLast())
        #expect(Self.decodeUCS2(payload).hasPrefix("Message vocal de 01 42 68 53 00 à ") && Self.decodeUCS2(payload).hasSuffix(" : À bientôt"),
                "\(ucs) → \(Self.decodeUCS2(payload))")
        #expect(try await Peers.eventually { try await history(mwid, "bob@example.com").first?["status"] as? String == "sent" })

        // Over POST.
        try await mailbox(mwid, "dan@example.com", "1237", option: "VoiceMail")
        let posted = try await mwid.mwictl(["mailbox", "sms", "setup", "dan@example.com", "--locale", "fr-FR", "--carrier", "Kannel Post",
                                            "--number", "06 11 11 11 11"])
        #expect(posted.status == 0, "\(posted.err)")
        #expect(await Peers.eventually { kannel.received.contains("<54321 +33611111111 text Votre code") }, "\(kannel.received)")

        // Kannel refuses the credentials: the set-up reports the gateway's answer.
        let refused = try await mwid.mwictl(["mailbox", "sms", "setup", "bob@example.com", "--locale", "fr-FR", "--carrier", "Broken",
                                             "--number", "0698765432"])
        #expect(refused.status != 0 && refused.err.contains("403"), "\(refused.err)")
    }

    /// fakesmsc's form of a UCS-2 text: UTF-16BE bytes, URL-encoded (`+` a 0x20 byte).
    static func decodeUCS2(_ text: String) -> String {
        var bytes: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "%", let end = text.index(i, offsetBy: 3, limitedBy: text.endIndex), let byte = UInt8(text[text.index(after: i)..<end], radix: 16) {
                bytes.append(byte)
                i = end
                continue
            }
            bytes.append(c == "+" ? 0x20 : c.asciiValue ?? 0x3F)
            i = text.index(after: i)
        }
        let units = stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        return String(decoding: units, as: UTF16.self)
    }

    @Test func emailToSMSWithSTARTTLS() async throws {
        let dir = try Peers.workDirectory("sms-smtp")
        let pki = try TestPKI()
        let securePort = try await Peers.freePort(udp: false), plainPort = try await Peers.freePort(udp: false)
        let secure = try await Peers.smtpServer(port: securePort, pki: pki, in: dir)
        defer { secure.process.stop() }
        let plain = try await Peers.smtpServer(port: plainPort, in: dir)
        defer { plain.process.stop() }
        let mwid = try await RunningMWID("sms-smtp", in: dir)
        defer { mwid.stop() }
        try await provision(mwid)
        for route in [
            ["mail", "--host", "127.0.0.1", "--port", "\(securePort)", "--from", "voicemail@mwid.test", "--start-tls", "required",
             "--ca-file", pki.caFile],
            ["plainmail", "--host", "127.0.0.1", "--port", "\(plainPort)", "--from", "voicemail@mwid.test", "--start-tls", "required"],
            ["authmail", "--host", "127.0.0.1", "--port", "\(plainPort)", "--from", "voicemail@mwid.test", "--username", "mwid",
             "--password", "secret"],
        ] {
            let r = try await mwid.mwictl(["sms", "route", "new", route[0], "--kind", "smtp"] + route.dropFirst())
            try #require(r.status == 0, "\(r.err)")
        }
        for (name, route) in [("Free", "mail"), ("Plain", "plainmail"), ("Auth", "authmail")] {
            let r = try await mwid.mwictl(["sms", "carrier", "new", "fr-FR", name, "--route", route, "--email-domain", "sms.\(route).test"])
            #expect(r.status == 0, "\(r.err)")
        }
        try await mailbox(mwid, "carol@example.com", "1236", option: "VoiceMailAndMissedCalls")

        #expect(try await mwid.mwictl(["mailbox", "sms", "setup", "carol@example.com", "--locale", "fr-FR", "--carrier", "Free",
                                       "--number", "07 00 00 00 01"]).status == 0)
        #expect(await Peers.eventually { Peers.mails(secure.maildir).count == 1 })
        let mail = try #require(Peers.mails(secure.maildir).first)
        #expect(mail.contains("To: <33700000001@sms.mail.test>") && mail.contains("From: <voicemail@mwid.test>"), "\(mail)")
        let passcode = try #require(code(in: [Peers.mailBody(mail)]))
        #expect(try await mwid.mwictl(["mailbox", "sms", "verify", "carol@example.com", "--code", passcode]).status == 0)
        #expect(try await mwid.mwictl(["call", "missed", "--mailbox", "carol@example.com", "--from", "+14155550100"]).status == 0)
        #expect(await Peers.eventually { Peers.mails(secure.maildir).count == 2 })
        #expect(Peers.mailBody(Peers.mails(secure.maildir)[1]).hasPrefix("Appel manqué de +14155550100 à "))
        // The second text went on the connection kept from the first: one STARTTLS for both.
        let peers = Peers.mails(secure.maildir).map(peer)
        #expect(peers.count == 2 && peers[0] != nil && peers[0] == peers[1], "\(peers)")

        // STARTTLS required but not offered; credentials never sent in clear.
        let noTLS = try await mwid.mwictl(["mailbox", "sms", "setup", "carol@example.com", "--locale", "fr-FR", "--carrier", "Plain",
                                           "--number", "0700000001"])
        #expect(noTLS.status != 0 && noTLS.err.contains("does not offer STARTTLS"), "\(noTLS.err)")
        let clear = try await mwid.mwictl(["mailbox", "sms", "setup", "carol@example.com", "--locale", "fr-FR", "--carrier", "Auth",
                                           "--number", "0700000001"])
        #expect(clear.status != 0 && clear.err.contains("not sent in clear"), "\(clear.err)")
        #expect(Peers.mails(plain.maildir).isEmpty)
    }

    /// The client address and port aiosmtpd saw for a mail (its `X-Peer` header).
    func peer(_ mail: String) -> String? {
        mail.firstMatch(of: /X-Peer: ([^\r\n]+)/).map { String($0.1) }
    }

    /// mwid's connections open to 127.0.0.1:`port` now (its side of them, in /proc/net/tcp).
    func connections(to port: Int) -> Int {
        let hex = String(port, radix: 16, uppercase: true)
        let remote = ":" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        // Read to the end: /proc says its size is 0, and a read of one page may stop short.
        let table = String(decoding: (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp")).readToEnd()) ?? Data(),
                           as: UTF8.self)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2].hasSuffix(remote) && fields[3] == "01"
        }.count
    }

    /// An email-to-SMS route in clear to the SMTP server on `port`, carrier `Mail`, and
    /// `identity` with its number verified through it (the passcode is the first mail in
    /// `maildir`).
    func verifiedByMail(_ mwid: RunningMWID, port: Int, maildir: URL, _ identity: String, _ ext: String, number: String) async throws {
        let route = try await mwid.mwictl(["sms", "route", "new", "mail", "--kind", "smtp", "--host", "127.0.0.1", "--port", "\(port)",
                                           "--from", "voicemail@mwid.test", "--start-tls", "never"])
        try #require(route.status == 0, "\(route.err)")
        let carrier = try await mwid.mwictl(["sms", "carrier", "new", "fr-FR", "Mail", "--route", "mail", "--email-domain", "sms.test"])
        try #require(carrier.status == 0, "\(carrier.err)")
        try await mailbox(mwid, identity, ext, option: "VoiceMailAndMissedCalls")
        #expect(try await mwid.mwictl(["mailbox", "sms", "setup", identity, "--locale", "fr-FR", "--carrier", "Mail",
                                       "--number", number]).status == 0)
        try #require(await Peers.eventually { Peers.mails(maildir).count == 1 })
        let passcode = try #require(code(in: [Peers.mailBody(Peers.mails(maildir)[0])]))
        #expect(try await mwid.mwictl(["mailbox", "sms", "verify", identity, "--code", passcode]).status == 0)
    }

    @Test func keptSMTPConnectionsCarryTheNextTextsAndAreReplacedOrClosed() async throws {
        let dir = try Peers.workDirectory("sms-smtp-kept")
        let port = try await Peers.freePort(udp: false)
        var server = try await Peers.smtpServer(port: port, in: dir)
        defer { server.process.stop() }
        let mwid = try await RunningMWID("sms-smtp-kept", in: dir, arguments: ["--sms-smtp-idle-timeout", "4"])
        defer { mwid.stop() }
        try await provision(mwid)
        // The passcode, then a missed call's text: one connection for both.
        try await verifiedByMail(mwid, port: port, maildir: server.maildir, "dave@example.com", "1237", number: "07 00 00 00 02")
        #expect(try await mwid.mwictl(["call", "missed", "--mailbox", "dave@example.com", "--from", "+14155550100"]).status == 0)
        try #require(await Peers.eventually { Peers.mails(server.maildir).count == 2 })
        let first = Peers.mails(server.maildir).map(peer)
        #expect(first[0] != nil && first[0] == first[1], "\(first)")
        #expect(connections(to: port) == 1)

        // The server goes away and comes back: the kept connection is dead, and the next
        // text goes on a new one instead of failing.
        server.process.stop()
        server = try await Peers.smtpServer(port: port, in: dir)
        #expect(try await mwid.mwictl(["call", "missed", "--mailbox", "dave@example.com", "--from", "+14155550101"]).status == 0)
        #expect(await Peers.eventually { Peers.mails(server.maildir).count == 3 })
        let third = Peers.mails(server.maildir).map(peer)
        #expect(third.count == 3 && third[2] != nil && third[2] != third[1], "\(third)")
        #expect(try await Peers.eventually {
            try await history(mwid, "dave@example.com").compactMap { $0["status"] as? String } == ["sent", "sent"]
        })

        // Idle for the idle timeout (4 s): closed.
        #expect(await Peers.eventually(timeout: .seconds(15)) { connections(to: port) == 0 })
    }

    @Test func aServerThatLimitsItsSessionsGetsTheNextTextOnANewConnection() async throws {
        let dir = try Peers.workDirectory("sms-smtp-limit")
        let port = try await Peers.freePort(udp: false)
        let server = try await Peers.smtpServer(port: port, messagesPerSession: 2, in: dir)
        defer { server.process.stop() }
        let mwid = try await RunningMWID("sms-smtp-limit", in: dir)
        defer { mwid.stop() }
        try await provision(mwid)
        try await verifiedByMail(mwid, port: port, maildir: server.maildir, "erin@example.com", "1238", number: "07 00 00 00 03")
        for (count, caller) in [(2, "+14155550100"), (3, "+14155550101")] {
            #expect(try await mwid.mwictl(["call", "missed", "--mailbox", "erin@example.com", "--from", caller]).status == 0)
            // The third is refused on the kept connection (452: two per session) and goes at
            // once on a new one: not after the retry back-off (30 s).
            #expect(await Peers.eventually(timeout: .seconds(10)) { Peers.mails(server.maildir).count == count })
        }
        let peers = Peers.mails(server.maildir).map(peer)
        #expect(peers.count == 3 && peers[0] == peers[1] && peers[2] != nil && peers[2] != peers[1], "\(peers)")
        let texts = try await history(mwid, "erin@example.com")
        #expect(texts.compactMap { $0["status"] as? String } == ["sent", "sent"] && texts.allSatisfy { $0["attempts"] as? Int == 1 },
                "\(texts)")
    }

    @Test func aTextBeingSentWhenMwidDiesIsNotSentTwice() async throws {
        let dir = try Peers.workDirectory("sms-crash")
        // An SMSC that accepts the connection and never answers the bind.
        let silentPort = try await Peers.freePort(udp: false)
        let silent = try PeerProcess("silent-smsc", try Peers.python(), ["-c", """
            import socket, time
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(silentPort))); s.listen(8)
            held = []
            while True:
                c, _ = s.accept(); held.append(c)
            """], in: dir, limit: 60)
        defer { silent.stop() }
        try await Peers.waitUntilListening(port: silentPort, udp: false)
        let port = try await Peers.freePort(udp: false)
        let smsc = try await Peers.smsc(port: port, in: dir)
        defer { smsc.process.stop() }
        let arguments = ["--sms-carriers", try catalog(dir, smscPort: port).path, "--sms-response-timeout", "30"]
        var mwid = try await RunningMWID("sms-crash", in: dir, arguments: arguments)
        try await provision(mwid)
        try await mailbox(mwid, "alice@example.com", "1234", option: "VoiceMail")
        try await verify(mwid, "alice@example.com", number: "+33612345678", log: smsc.log)
        // The route now points at the silent SMSC: the text stays "sending".
        #expect(try await mwid.mwictl(["sms", "route", "set", "smsc", "--port", "\(silentPort)"]).status == 0)
        #expect(try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "+33142685300", "--duration", "3"]).status == 0)
        #expect(try await Peers.eventually { try await history(mwid, "alice@example.com").first?["status"] as? String == "sending" })
        mwid.stop(signal: "KILL")
        mwid = try await RunningMWID("sms-crash-2", in: dir, arguments: arguments)
        defer { mwid.stop() }
        let after = try await history(mwid, "alice@example.com")
        #expect(after.first?["status"] as? String == "unconfirmed" && (after.first?["lastError"] as? String)?.contains("stopped") == true,
                "\(after)")
        let events = try await mwid.mwictl(["events", "--subject", "alice@example.com", "--json"])
        #expect(events.out.contains("sms.unconfirmed"))
        #expect(mwid.process.log.contains("marked unconfirmed, not sent again"))
    }
}
