import Foundation
import GRDB
@testable import Storage
import Testing
import UnifiedMessaging

/// A database of the schema before voice messages were keyed by mailbox and id (v8) keeps
/// every message, each field of it, and what can be done with it when mwid migrates it.
@Suite struct VoiceMessageMigrationTests {
    @Test func messagesOfAVersion8DatabaseSurviveTheMigration() async throws {
        let t0 = 1_799_970_000.0
        let urgentUnheard = VoiceMessage(id: "m1", from: "+33142685300", receivedAt: Date(timeIntervalSince1970: t0), durationSeconds: 12,
                                         urgent: true, protected: true, read: false, transcript: "Call me back")
        let heard = VoiceMessage(id: "m2", from: "1234", receivedAt: Date(timeIntervalSince1970: t0 + 60), durationSeconds: 3,
                                 urgent: false, protected: false, read: true, transcript: nil)
        let bobs = VoiceMessage(id: "m3", from: "5678", receivedAt: Date(timeIntervalSince1970: t0 + 5), durationSeconds: 40)
        let (folder, path) = try await OlderDatabase.make("msg-v9", upTo: "v8: publications keyed by mailbox and entity tag") { db in
            for (identity, number, messages) in [("alice", "1234", [urgentUnheard, heard]), ("bob", "1235", [bobs])] {
                let state = MessageWaitingState(messages: messages)
                try db.execute(sql: """
                    INSERT INTO mailbox (identity, extension, dial_plan, policy, sms_option, new_count, old_count,
                        urgent_new_count, urgent_old_count) VALUES (?, ?, 'Paris', 'Default', 'None', ?, ?, ?, ?)
                    """, arguments: [identity, number, state.new, state.old, state.urgentNew, state.urgentOld])
                for m in messages {
                    try db.execute(sql: """
                        INSERT INTO voice_message (id, mailbox, caller, received_at, duration_seconds, urgent, protected, read, transcript)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [m.id, identity, m.from, m.receivedAt.timeIntervalSince1970, m.durationSeconds,
                                         m.urgent, m.protected, m.read, m.transcript])
                }
            }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteStorage(path: path)
        #expect(try await storage.appliedMigrations().contains("v9: voice messages keyed by mailbox and id"))
        // Every field, newest first, each message in its own mailbox only.
        #expect(try await storage.messages(mailbox: "alice") == [heard, urgentUnheard])
        #expect(try await storage.messages(mailbox: "bob") == [bobs])
        #expect(try await storage.message(id: "m1", mailbox: "alice") == urgentUnheard)
        await #expect(throws: DirectoryError.self) { _ = try await storage.message(id: "m3", mailbox: "alice") }
        await #expect(throws: DirectoryError.self) {
            _ = try await storage.changeMessage(id: "m3", mailbox: "alice", VoiceMessageChange(read: true))
        }
        #expect(try await storage.messages(mailbox: "bob").map(\.read) == [false])
        // Heard, removed and deposited as before, the counts following.
        let read = try await storage.changeMessage(id: "m1", mailbox: "alice", VoiceMessageChange(read: true))
        #expect(read.state == MessageWaitingState(new: 0, old: 2, urgentNew: 0, urgentOld: 1))
        let removed = try await storage.removeMessage(id: "m2", mailbox: "alice")
        #expect(removed.state == MessageWaitingState(new: 0, old: 1, urgentNew: 0, urgentOld: 1))
        _ = try await storage.deposit(VoiceMessageDeposit(from: "+33100000000", durationSeconds: 5), mailbox: "alice", id: "m4",
                                      at: Date(timeIntervalSince1970: t0 + 120))
        #expect(try await storage.messages(mailbox: "alice").map(\.id) == ["m4", "m1"])
        // A mailbox removed takes its messages with it (the foreign key survived the rebuild).
        try await storage.removeMailbox(identity: "bob")
        let left = try await DatabaseQueue(path: path).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM voice_message WHERE mailbox = 'bob'")
        }
        #expect(left == 0)
    }
}
