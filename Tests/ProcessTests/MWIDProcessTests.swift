import Foundation
import TestSupport
import Testing

/// The built `mwid` executable, started as an administrator would, probed by SIPp and curl-like HTTP.
@Suite(.serialized) struct MWIDProcessTests {
    @Test func answersOptionsAndHTTPThenStopsGracefullyOnSIGTERM() async throws {
        let mwid = try await RunningMWID("mwid-process")
        try await Peers.waitUntilListening(port: mwid.sipPort, udp: true)
        for transport in ["u1", "t1"] {
            let uac = try Peers.sipp("uac_options.xml", port: try await Peers.freePortBoth(), transport: transport,
                                     remote: "127.0.0.1:\(mwid.sipPort)", calls: 2, in: mwid.directory)
            #expect(await uac.waitForExit() == 0, "\(uac.log)")
        }
        // The token was made with mode 0600 on first start.
        let attributes = try FileManager.default.attributesOfItem(atPath: mwid.dataDirectory.appendingPathComponent("admin.token").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(mwid.token.count == 64)

        mwid.stop(signal: "TERM")
        #expect(mwid.process.process.terminationStatus == 0, "\(mwid.process.log)")
        let log = mwid.process.log
        #expect(log.contains("SIP listening"))
        #expect(log.contains("HTTP listening") && log.contains("127.0.0.1:\(mwid.httpPort)"))
        #expect(log.contains("data folder \(mwid.dataDirectory.path)"))
        #expect(log.contains("allocator=jemalloc 5."), "mwid runs on the allocator it links: \(log)")
        #expect(log.contains("stopping") && log.contains("stopped"), "\(log)")
    }

    @Test func dataSurvivesARestartAndTheTokenIsKept() async throws {
        let first = try await RunningMWID("mwid-restart")
        let made = try await first.mwictl(["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4"])
        #expect(made.status == 0, "\(made.err)")
        let token = first.token
        first.stop(signal: "INT")
        #expect(first.process.process.terminationStatus == 0)

        let second = try await RunningMWID("mwid-restart", in: first.directory)
        defer { second.stop() }
        #expect(second.token == token)
        let listed = try await second.mwictl(["dialplan", "get", "Paris", "--json"])
        #expect(listed.status == 0 && listed.out.contains("\"numberOfDigitsInExtension\" : 4"), "\(listed)")
    }

    /// An administrator who starts an older mwid on a database a newer one upgraded is
    /// told so at start (exit 1), instead of a server whose writes fail one by one; the
    /// database is left as it was.
    @Test func aDatabaseUpgradedByANewerMwidIsRefusedAtStart() async throws {
        let first = try await RunningMWID("mwid-newer-schema")
        #expect(try await first.mwictl(["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4"]).status == 0)
        first.stop(signal: "TERM")
        #expect(first.process.process.terminationStatus == 0)
        // What a later version's migration leaves behind: its name among the applied ones.
        let database = first.dataDirectory.appendingPathComponent("mwid.sqlite").path
        let python = try #require(Peers.executable("python3"), "python3 is installed by scripts/deps")
        let sql = try PeerProcess("sqlite", python, ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a later mwid')")
            db.commit()
            """, database], in: first.directory)
        #expect(await sql.waitForExit() == 0, "\(sql.log)")

        let older = try PeerProcess("older", RunningMWID.binary,
                                    ["--http", "127.0.0.1:0", "--sip-udp", "127.0.0.1:0", "--sip-tcp", "127.0.0.1:0",
                                     "--data", first.dataDirectory.path], in: first.directory)
        #expect(await older.waitForExit(timeout: .seconds(20)) == 1)
        #expect(older.log.contains("cannot use the data folder")
                    && older.log.contains("was upgraded by a newer mwid (schema \"v99: from a later mwid\" unknown to this one)")
                    && older.log.contains("restore the backup taken before the upgrade"), "\(older.log)")

        // Nothing was changed: taking the later version's mark away, the data is all there.
        let undo = try PeerProcess("sqlite-undo", python, ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("DELETE FROM grdb_migrations WHERE identifier = 'v99: from a later mwid'")
            db.commit()
            """, database], in: first.directory)
        #expect(await undo.waitForExit() == 0, "\(undo.log)")
        let again = try await RunningMWID("mwid-newer-schema", in: first.directory)
        defer { again.stop() }
        let listed = try await again.mwictl(["dialplan", "get", "Paris", "--json"])
        #expect(listed.status == 0 && listed.out.contains("\"numberOfDigitsInExtension\" : 4"), "\(listed)")
    }

    @Test func portInUseIsAClearErrorAndNonZeroExit() async throws {
        let first = try await RunningMWID("mwid-port-in-use")
        defer { first.stop() }
        // Same HTTP port, other SIP ports.
        let sip = try await Peers.freePortBoth()
        let second = try PeerProcess("second", RunningMWID.binary,
                                     ["--http", "127.0.0.1:\(first.httpPort)", "--sip-udp", "127.0.0.1:\(sip)",
                                      "--sip-tcp", "127.0.0.1:\(sip)", "--data", first.directory.appendingPathComponent("other").path],
                                     in: first.directory)
        #expect(await second.waitForExit(timeout: .seconds(20)) == 1)
        #expect(second.log.contains("cannot serve HTTP on 127.0.0.1:\(first.httpPort)") && second.log.contains("address already in use"),
                "\(second.log)")
        // Same SIP port.
        let third = try PeerProcess("third", RunningMWID.binary,
                                    ["--http", "127.0.0.1:0", "--sip-udp", "127.0.0.1:\(first.sipPort)",
                                     "--sip-tcp", "127.0.0.1:\(first.sipPort)", "--data", first.directory.appendingPathComponent("third").path],
                                    in: first.directory)
        #expect(await third.waitForExit(timeout: .seconds(20)) == 1)
        #expect(third.log.contains("cannot start SIP") && third.log.contains("address already in use"), "\(third.log)")

        // The tests' own wait for a server to listen gives up as soon as the server has
        // exited, and says why it did.
        let http = try await Peers.freePort(udp: false)
        let fourth = try PeerProcess("fourth", RunningMWID.binary,
                                     ["--http", "127.0.0.1:\(http)", "--sip-udp", "127.0.0.1:\(first.sipPort)",
                                      "--sip-tcp", "127.0.0.1:\(first.sipPort)", "--data", first.directory.appendingPathComponent("fourth").path],
                                     in: first.directory)
        let started = ContinuousClock.now
        do {
            try await Peers.waitUntilListening(port: http, udp: false, timeout: .seconds(60), process: fourth)
            Issue.record("a second mwid on the same SIP port was taken as listening")
        } catch {
            #expect("\(error)".contains("fourth exited with status 1") && "\(error)".contains("address already in use"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(30), "the wait must end when the server exits, not at its timeout")
    }

    @Test func unreadableDataFolderBadListenerAndBadConfigAreRefused() async throws {
        let dir = try Peers.workDirectory("mwid-bad-start")
        let blocker = dir.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        let cases: [([String], String)] = [
            (["--data", blocker.path], "cannot use the data folder"),
            (["--sip-udp", "not-an-address"], "is not HOST:PORT"),
            (["--http", "localhost"], "is not HOST:PORT"),
            (["--config", dir.appendingPathComponent("missing.yaml").path], "cannot read the configuration file"),
            (["--log-level", "loud"], "log level must be one of"),
            (["--storage-sync", "off"], "storage sync must be full or normal (got \"off\")"),
            (["--sip-trusted-peer", "pbx.example.com"], "trusted SIP peer \"pbx.example.com\" is not an IP address"),
            (["--subscription-min-expires", "0"], "the minimum subscription expiry must be 1 to 86400"),
            (["--subscription-min-expires", "600", "--subscription-max-expires", "60"], "is below the minimum"),
            (["--digest-algorithms", "SHA-1"], "digest algorithm \"SHA-1\" is not MD5 or SHA-256"),
            (["--sip-request-rate", "0"], "the SIP request rate must be above 0"),
            (["--subscription-notify-window", "0"], "the subscription NOTIFY window must be 1 to 1000000 (got 0)"),
            (["--mwi-notify-window", "0"], "the MWI NOTIFY window must be 1 to 1000000 (got 0)"),
        ]
        for (arguments, expected) in cases {
            let p = try PeerProcess("bad", RunningMWID.binary, ["--data", dir.appendingPathComponent("data").path] + arguments, in: dir)
            #expect(await p.waitForExit(timeout: .seconds(20)) == 1, "\(arguments)")
            #expect(p.log.contains(expected), "\(arguments): \(p.log)")
        }
        let yaml = dir.appendingPathComponent("typo.yaml")
        try "http: 127.0.0.1:0\nsip:\n  udpp: [127.0.0.1:5060]\n".write(to: yaml, atomically: true, encoding: .utf8)
        let p = try PeerProcess("typo", RunningMWID.binary, ["--config", yaml.path], in: dir)
        #expect(await p.waitForExit(timeout: .seconds(20)) == 1)
        #expect(p.log.contains("unknown setting \"sip.udpp\""), "\(p.log)")
        try "subscriptions:\n  minExpire: 30\n".write(to: yaml, atomically: true, encoding: .utf8)
        let nested = try PeerProcess("typo2", RunningMWID.binary, ["--config", yaml.path], in: dir)
        #expect(await nested.waitForExit(timeout: .seconds(20)) == 1)
        #expect(nested.log.contains("typo.yaml: unknown setting \"subscriptions.minExpire\" (known here: minExpires"), "\(nested.log)")
    }

    @Test func configFileSetsListenersAndDataAndFlagsWin() async throws {
        let dir = try Peers.workDirectory("mwid-config")
        let sip = try await Peers.freePortBoth()
        let yaml = dir.appendingPathComponent("mwid.yaml")
        try """
            data: \(dir.appendingPathComponent("from-config").path)
            http: 127.0.0.1:1
            logLevel: debug
            storageSync: normal
            sip:
              udp: [127.0.0.1:\(sip)]
              tcp: [127.0.0.1:\(sip)]
            """.write(to: yaml, atomically: true, encoding: .utf8)
        // --http on the command line wins over the file's (unusable) port 1.
        let http = try await Peers.freePort(udp: false)
        let p = try PeerProcess("config", RunningMWID.binary, ["--config", yaml.path, "--http", "127.0.0.1:\(http)"], in: dir)
        defer { p.stop(signal: "KILL") }
        try await Peers.waitUntilListening(port: http, udp: false, timeout: .seconds(20))
        try await Peers.waitUntilListening(port: sip, udp: true)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("from-config/admin.token").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("from-config/mwid.sqlite").path))
        p.stop(signal: "TERM")
        #expect(p.log.contains("debug"), "log level from the file")
        #expect(p.log.contains("sync=normal") && p.log.contains("commits are not synced to disk (storage sync normal)"), "\(p.log)")
    }
}
