import Foundation
import GRDB
import Metrics
import Synchronization

/// Copies the WAL back into the database file on a connection and a thread of its own,
/// ahead of SQLite's automatic checkpoint.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold (1000
/// pages), on the writer: it copies those pages and fsyncs the database file there, and
/// every write waiting for that commit waits with it (a deposit's p99 at 1 000/s was
/// 21–24 ms). A passive checkpoint needs no write lock, so run here after every `every`
/// commits it does that copying beside the writer, and the automatic one finds little
/// left to do (p99 6 ms). The automatic one is still needed: under a steady stream of
/// commits a checkpoint beside the writer never catches up with it, and only one run by
/// the writer between two of its transactions lets the WAL start again from its
/// beginning (without it the WAL grew to 64 MiB, and its truncation stalled writes for
/// 100–200 ms).
final class Checkpointer: Sendable {
    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "mwid.storage.checkpoint", qos: .utility)
    private let every: Int
    private struct Progress {
        var commits = 0
        var running = false
    }
    private let progress = Mutex(Progress())
    private let checkpoints = Counter(label: "mwid_storage_checkpoints_total")

    /// `path` is the database the pool has opened (and migrated) in WAL mode.
    init(path: String, every: Int = 10) throws {
        var configuration = Configuration()
        configuration.label = "mwid.checkpoint"
        configuration.prepareDatabase { db in try db.run("PRAGMA synchronous = FULL") }
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.every = every
    }

    /// A transaction was committed; from the commit queue.
    func committed() {
        let start = progress.withLock { progress in
            progress.commits += 1
            guard progress.commits >= every, !progress.running else { return false }
            progress.commits = 0
            progress.running = true
            return true
        }
        guard start else { return }
        queue.async {
            defer { self.progress.withLock { $0.running = false } }
            // Passive: whatever the readers of the moment still need stays for the next one.
            if (try? self.connection.writeWithoutTransaction({ db in try db.checkpoint(.passive) })) != nil {
                self.checkpoints.increment()
            }
        }
    }
}
