import Foundation
import GRDB
import Metrics
import Synchronization

/// Keeps the WAL short: copies it back into the database file on a connection and a
/// thread of its own, ahead of SQLite's automatic checkpoint, and says when it has grown
/// too long all the same and must be truncated.
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
///
/// Neither checkpoint can rewind the WAL while readers keep reading, which under steady
/// load they may always do: the WAL grows, and every read and commit slows with it. So
/// every 128 commits its size is looked at, and past `walLimit` the writer truncates it
/// (a checkpoint in full, waiting for the readers of the moment).
final class Checkpointer: Sendable {
    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "mwid.storage.checkpoint", qos: .utility)
    private let every: Int
    private let walPath: String
    private let walLimit: Int
    private struct Progress {
        var commits = 0
        var sinceCheckpoint = 0
        var running = false
    }
    private let progress = Mutex(Progress())
    private let checkpoints = Counter(label: "mwid_storage_checkpoints_total")

    /// `path` is the database the pool has opened (and migrated) in WAL mode.
    init(path: String, every: Int = 10, walLimit: Int = 64 << 20) throws {
        var configuration = Configuration()
        configuration.label = "mwid.checkpoint"
        configuration.prepareDatabase { db in try db.run("PRAGMA synchronous = FULL") }
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.every = every
        self.walPath = path + "-wal"
        self.walLimit = walLimit
    }

    enum Upkeep: Equatable { case none, truncate }

    /// A transaction was committed (told from the commit queue): starts a checkpoint when
    /// one is due, and says whether the writer must truncate the WAL now.
    func committed() -> Upkeep {
        let (start, look) = progress.withLock { progress in
            progress.commits += 1
            progress.sinceCheckpoint += 1
            let look = progress.commits % 128 == 0
            guard progress.sinceCheckpoint >= every, !progress.running else { return (false, look) }
            progress.sinceCheckpoint = 0
            progress.running = true
            return (true, look)
        }
        if start { checkpoint() }
        guard look, let size = try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int,
              size > walLimit else { return .none }
        return .truncate
    }

    private func checkpoint() {
        queue.async {
            defer { self.progress.withLock { $0.running = false } }
            // Passive: whatever the readers of the moment still need stays for the next one.
            if (try? self.connection.writeWithoutTransaction({ db in try db.checkpoint(.passive) })) != nil {
                self.checkpoints.increment()
            }
        }
    }
}
