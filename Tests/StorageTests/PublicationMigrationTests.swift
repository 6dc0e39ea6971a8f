import Foundation
import GRDB
@testable import Storage
import Testing
import UnifiedMessaging

/// A database of the schema before publications were keyed by mailbox and entity tag
/// (v7) keeps its publications, their order and their entity tags when mwid migrates it.
@Suite struct PublicationMigrationTests {
    @Test func publicationsOfAVersion7DatabaseSurviveTheMigration() async throws {
        let now = 1_799_970_000.0
        let upTo = "v7: externally-fed mailboxes and their publications (SIP PUBLISH, PUT mwi)"
        let (folder, path) = try await OlderDatabase.make("pub-v8", upTo: upTo) { db in
            try db.execute(sql: """
                INSERT INTO mailbox (identity, extension, dial_plan, policy, sms_option, mwi_source, new_count)
                    VALUES ('bob', '1235', 'Paris', 'Default', 'None', 'External', 4);
                """)
            // Two live publications with the same time: the one inserted last is the newer.
            for (etag, new) in [("tag-a", 2), ("tag-b", 4)] {
                try db.execute(sql: """
                    INSERT INTO mwi_publication (etag, mailbox, new_count, old_count, urgent_new_count, urgent_old_count,
                        publisher, updated_at, expires_at) VALUES (?, 'bob', ?, 0, 0, 0, 'trusted 127.0.0.1', ?, ?)
                    """, arguments: [etag, new, now, now + 3600])
            }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteStorage(path: path)
        #expect(try await storage.appliedMigrations().contains("v8: publications keyed by mailbox and entity tag"))
        let at = Date(timeIntervalSince1970: now + 10)
        #expect(try await storage.publications(mailbox: "bob", at: at).map(\.etag) == ["tag-b", "tag-a"])
        // The old entity tag still matches its publication: a modify replaces it, and it is now the newest.
        let modified = try await storage.publish(.modify(etag: "tag-a", MessageWaitingState(new: 7), lifetime: 600),
                                                 to: .identity("bob"), publisher: "trusted 127.0.0.1", at: at)
        #expect(modified.change.state == MessageWaitingState(new: 7))
        let records = try await storage.publications(mailbox: "bob", at: at)
        #expect(records.map(\.state.new) == [7, 4] && records.first?.etag == modified.etag && modified.etag != "tag-a")
        // A replaced tag is refused (412 in SIP).
        await #expect(throws: DirectoryError.self) {
            _ = try await storage.publish(.remove(etag: "tag-a"), to: .identity("bob"), publisher: "trusted 127.0.0.1", at: at)
        }
        // Removing the newest falls back to the other.
        let removed = try await storage.publish(.remove(etag: modified.etag ?? ""), to: .identity("bob"),
                                                publisher: "trusted 127.0.0.1", at: at)
        #expect(removed.change.state == MessageWaitingState(new: 4))
    }
}
