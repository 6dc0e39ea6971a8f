import Foundation
import TestSupport
import Testing

/// The built `mwictl` against a running `mwid` over loopback, as an administrator uses it.
@Suite(.serialized) struct MWICtlTests {
    @Test func anAdministratorSetsUpADialPlanToALitLamp() async throws {
        let mwid = try await RunningMWID("mwictl-tour")
        defer { mwid.stop() }
        let steps: [[String]] = [
            ["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4", "--country-or-region-code", "33"],
            ["policy", "new", "Default", "--um-dial-plan", "Paris"],
            ["gateway", "new", "pbx1", "--address", "192.0.2.10", "--dial-plans", "Paris", "--transport", "udp",
             "--username", "mwid", "--password", "s3cret"],
            ["mailbox", "new", "alice@example.com", "--extension", "1234", "--dial-plan", "Paris", "--policy", "Default"],
        ]
        for step in steps {
            let r = try await mwid.mwictl(step)
            #expect(r.status == 0, "\(step): \(r.err)")
        }
        // A table for people: a header row and one row per gateway; the password never shown.
        let gateways = try await mwid.mwictl(["gateway", "list"])
        let lines = gateways.out.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("NAME") && lines[1].hasPrefix("pbx1") && lines[1].contains("udp"), "\(gateways.out)")
        #expect(!gateways.out.contains("s3cret"))

        let deposit = try await mwid.mwictl(["message", "deposit", "alice@example.com", "--from", "+33142685300", "--duration", "12", "--urgent", "--json"])
        #expect(deposit.status == 0, "\(deposit.err)")
        let message = try JSONSerialization.jsonObject(with: Data(deposit.out.utf8)) as? [String: Any]
        let id = try #require(message?["id"] as? String)

        var status = try await mwid.mwictl(["mwi", "status", "alice@example.com", "--json"])
        var mwi = try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any]
        #expect(mwi?["new"] as? Int == 1 && mwi?["urgentNew"] as? Int == 1 && mwi?["messagesWaiting"] as? Bool == true)
        #expect(mwi?["enabled"] as? Bool == true)

        #expect(try await mwid.mwictl(["message", "read", "alice@example.com", id]).status == 0)
        status = try await mwid.mwictl(["mwi", "status", "alice@example.com", "--json"])
        mwi = try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any]
        #expect(mwi?["new"] as? Int == 0 && mwi?["old"] as? Int == 1 && mwi?["messagesWaiting"] as? Bool == false)
        #expect(try await mwid.mwictl(["message", "unread", "alice@example.com", id]).status == 0)
        let table = try await mwid.mwictl(["message", "list", "alice@example.com"])
        #expect(table.out.contains(id) && table.out.contains("+33142685300"), "\(table.out)")

        // The Exchange switches, in kebab case, with true/false.
        let off = try await mwid.mwictl(["policy", "set", "Default", "--allow-message-waiting-indicator", "false"])
        #expect(off.status == 0 && off.out.contains("allowMessageWaitingIndicator  false"), "\(off.out)")
        let human = try await mwid.mwictl(["mwi", "status", "alice@example.com"])
        #expect(human.out.contains("does not allow the message waiting indicator"), "\(human.out)")
        #expect(try await mwid.mwictl(["gateway", "set", "pbx1", "--message-waiting-indicator-allowed", "false"]).status == 0)
        #expect(try await mwid.mwictl(["mailbox", "set", "alice@example.com", "--um-sms-notification-option", "VoiceMail"]).status == 0)
        #expect(try await mwid.mwictl(["policy", "set", "Default", "--allow-sms-notification", "false"]).status == 0)
        let mailbox = try await mwid.mwictl(["mailbox", "get", "alice@example.com"])
        #expect(mailbox.out.contains("VoiceMail"), "\(mailbox.out)")

        let events = try await mwid.mwictl(["events", "--subject", "Default"])
        #expect(events.out.contains("policy.updated") && events.out.contains("policy.created"), "\(events.out)")

        #expect(try await mwid.mwictl(["message", "delete", "alice@example.com", id]).status == 0)
        #expect(try await mwid.mwictl(["mailbox", "remove", "alice@example.com"]).status == 0)
        #expect(try await mwid.mwictl(["mailbox", "list"]).out.contains("(none)"))
    }

    @Test func serverErrorsArePrintedPlainlyWithANonZeroExit() async throws {
        let mwid = try await RunningMWID("mwictl-errors")
        defer { mwid.stop() }
        #expect(try await mwid.mwictl(["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4"]).status == 0)
        let cases: [([String], String)] = [
            (["dialplan", "new", "Lyon", "--number-of-digits-in-extension", "30"], "numberOfDigitsInExtension: must be between 1 and 20"),
            (["dialplan", "new", "Lyon", "--number-of-digits-in-extension", "4", "--uri-type", "Sip"], "uriType: must be one of TelExtn, SipName, E164"),
            (["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4"], "already exists (HTTP 409)"),
            (["gateway", "new", "pbx", "--address", "not valid"], "address: must be an IPv4 or IPv6 address"),
            (["gateway", "new", "pbx"], "address: is required"),
            (["mailbox", "new", "bob", "--extension", "12", "--dial-plan", "Paris", "--policy", "Nope"], "mailbox policy \"Nope\" does not exist"),
            (["mailbox", "get", "nobody"], "mailbox \"nobody\" does not exist (HTTP 404)"),
            (["dialplan", "set", "Paris"], "nothing to change"),
            (["gateway", "set", "x", "--message-waiting-indicator-allowed", "maybe"], "maybe"),
        ]
        for (arguments, expected) in cases {
            let r = try await mwid.mwictl(arguments)
            #expect(r.status != 0, "\(arguments)")
            #expect(r.err.contains(expected), "\(arguments): \(r.err)")
        }
        // A wrong token and an unreachable server.
        let denied = try await mwid.mwictl(["dialplan", "list"], environment: ["MWID_TOKEN": "wrong-token"])
        #expect(denied.status == 1 && denied.err.contains("bearer token is not valid"), "\(denied.err)")
        let unreachable = try await mwid.mwictl(["dialplan", "list", "--server", "http://127.0.0.1:1"])
        #expect(unreachable.status == 1 && unreachable.err.contains("cannot reach mwid at http://127.0.0.1:1"), "\(unreachable.err)")
        #expect(try await mwid.dialPlanCount() == 1)
    }

    @Test func findsTheServerAndTokenAsTheSpecSays() async throws {
        let mwid = try await RunningMWID("mwictl-discovery")
        defer { mwid.stop() }
        // No MWID_TOKEN: ./mwid-data/admin.token from the working folder (mwid's own folder here).
        let fromFile = try await mwid.mwictl(["dialplan", "list", "--json"], environment: ["MWID_TOKEN": ""])
        #expect(fromFile.status == 0 && fromFile.out.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]", "\(fromFile)")
        // --server and --token win over the environment.
        let flags = try await mwid.mwictl(["dialplan", "list", "--server", mwid.url, "--token", mwid.token],
                                          environment: ["MWID_URL": "http://127.0.0.1:1", "MWID_TOKEN": "wrong"])
        #expect(flags.status == 0, "\(flags.err)")
        // Nowhere to find a token.
        let elsewhere = try Peers.workDirectory("mwictl-no-token")
        let none = try await mwid.mwictl(["dialplan", "list"], environment: ["MWID_TOKEN": ""], in: elsewhere)
        #expect(none.status == 1 && none.err.contains("no admin token"), "\(none.err)")
    }

    @Test func everyCommandHasHelpWithAnExample() async throws {
        let mwid = try await RunningMWID("mwictl-help")
        defer { mwid.stop() }
        let commands: [[String]] = [
            [], ["dialplan"], ["gateway"], ["policy"], ["mailbox"], ["message"], ["mwi"], ["events"],
        ] + ["dialplan", "gateway", "policy", "mailbox"].flatMap { noun in
            ["list", "get", "new", "set", "remove"].map { [noun, $0] }
        } + ["deposit", "list", "read", "unread", "delete"].map { ["message", $0] } + [["mwi", "status"]]
        for command in commands {
            let r = try await mwid.mwictl(command + ["--help"])
            #expect(r.status == 0, "\(command)")
            do {
                #expect(r.out.contains("Example"), "\(command): \(r.out)")
                #expect(r.out.contains("mwictl "), "\(command)")
            }
        }
    }
}

extension RunningMWID {
    func dialPlanCount() async throws -> Int {
        let r = try await mwictl(["dialplan", "list", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [Any])?.count ?? -1
    }
}
