import Foundation
import GRDB
@testable import Storage

/// A database of an older schema, for the migration tests: a file in a folder of its own,
/// migrated up to `version`, with the dial plan Paris and the policy Default every version
/// has, then what `fill` writes; closed before it is returned, as mwid finds it at start.
enum OlderDatabase {
    static func make(_ name: String, upTo version: String,
                     _ fill: @escaping @Sendable (Database) throws -> Void) async throws -> (folder: URL, path: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("mwid.sqlite").path
        let queue = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(queue, upTo: version)
        try await queue.write { db in
            try db.execute(sql: """
                INSERT INTO dial_plan (name, number_of_digits, uri_type, voip_security) VALUES ('Paris', 4, 'TelExtn', 'Unsecured');
                INSERT INTO mailbox_policy (name, dial_plan, allow_mwi, allow_sms) VALUES ('Default', 'Paris', 1, 0);
                """)
            try fill(db)
        }
        try queue.close()
        return (folder, path)
    }
}
