import Foundation
import GRDB
@testable import Storage
import Testing
import UnifiedMessaging

/// A database of the schema before subscriptions were keyed by mailbox and id (v9) keeps
/// every subscription and each field of it when mwid migrates it, and they are refreshed,
/// ended and cascaded as before.
@Suite struct SubscriptionMigrationTests {
    @Test func subscriptionsOfAVersion9DatabaseSurviveTheMigration() async throws {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        func subscription(_ id: String, _ mailbox: String, routes: [String], eventID: String?) -> MWISubscription {
            MWISubscription(id: id, mailbox: mailbox, callID: "call-\(id)@192.0.2.50", remoteTag: "ph-\(id)",
                            localURI: "<sip:1234@mwid>", remoteURI: "<sip:1234@mwid>;tag=ph-\(id)",
                            remoteTarget: "sip:phone@192.0.2.50:5062", routeSet: routes, transport: "tcp",
                            source: "192.0.2.50:40000", eventID: eventID, remoteCSeq: 2, localCSeqReserved: 1001,
                            expiresAt: at.addingTimeInterval(3600), createdAt: at, subscriber: "digest 1234")
        }
        let alices = [subscription("a00000000000001", "alice", routes: ["<sip:p1;lr>", "<sip:p2;lr>"], eventID: "7"),
                      subscription("a00000000000002", "alice", routes: [], eventID: nil)]
        let bobs = subscription("b00000000000001", "bob", routes: ["<sip:p3;lr>"], eventID: nil)
        let (folder, path) = try await OlderDatabase.make("sub-v10", upTo: "v9: voice messages keyed by mailbox and id") { db in
            try db.execute(sql: """
                INSERT INTO mailbox (identity, extension, dial_plan, policy, sms_option) VALUES ('alice', '1234', 'Paris', 'Default', 'None');
                INSERT INTO mailbox (identity, extension, dial_plan, policy, sms_option) VALUES ('bob', '1235', 'Paris', 'Default', 'None');
                """)
            for s in alices + [bobs] {
                // The v3 table's column order, id first.
                try db.execute(sql: """
                    INSERT INTO subscription (id, mailbox, call_id, remote_tag, local_uri, remote_uri, remote_target, route_set,
                        transport, source, event_id, remote_cseq, local_cseq_reserved, expires_at, created_at, subscriber)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [s.id, s.mailbox, s.callID, s.remoteTag, s.localURI, s.remoteURI, s.remoteTarget,
                                     s.routeSet.joined(separator: "\n"), s.transport, s.source, s.eventID, s.remoteCSeq,
                                     s.localCSeqReserved, s.expiresAt.timeIntervalSince1970, s.createdAt.timeIntervalSince1970,
                                     s.subscriber])
            }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteStorage(path: path)
        #expect(try await storage.appliedMigrations().last == "v10: subscriptions keyed by mailbox and id")
        #expect(try await storage.subscriptions() == alices + [bobs], "every field of every subscription, by mailbox")

        // A refresh updates in place; a removal names the mailbox, and another mailbox's id is left alone.
        var refreshed = alices[0]
        refreshed.remoteCSeq = 3
        refreshed.localCSeqReserved = 2001
        refreshed.expiresAt = at.addingTimeInterval(7200)
        try await storage.save(refreshed)
        try await storage.removeSubscription(id: "a00000000000002", mailbox: "bob")
        #expect(try await storage.subscriptions() == [refreshed, alices[1], bobs])
        try await storage.removeSubscription(id: "a00000000000002", mailbox: "alice")
        #expect(try await storage.subscriptions() == [refreshed, bobs])

        // The foreign key survived the rebuild: no subscription without its mailbox, and a
        // removed mailbox takes its subscriptions with it.
        var orphan = bobs
        orphan.mailbox = "nobody"
        await #expect(throws: DirectoryError.notFound("mailbox", "nobody")) { try await storage.save(orphan) }
        try await storage.removeMailbox(identity: "bob")
        #expect(try await storage.subscriptions() == [refreshed])
    }
}
