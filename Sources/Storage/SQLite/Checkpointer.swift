import Foundation
import GRDB
import Metrics
import Synchronization

/// Copies the WAL back into the database file on a connection and a thread of its own.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
/// writer: with durable commits it fsyncs the database file there, and every deposit
/// waiting for that commit waited 10–20 ms for it (a deposit's p99 at 1 000/s was 21 ms;
/// 8 ms without). A passive checkpoint needs no write lock, so run here, after every
/// `every` commits, it overlaps with the writer instead of stalling it. Once a checkpoint
/// has copied everything back and no reader needs the old frames, the next commit starts
/// the WAL again from its beginning.
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
    init(path: String, every: Int = 100) throws {
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
