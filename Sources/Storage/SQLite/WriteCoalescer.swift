import Foundation
import GRDB
import Metrics
import Synchronization

/// Group commit: writes submitted while a transaction is being committed are gathered and
/// committed together in the next one, each inside its own savepoint. A write that throws
/// rolls back its savepoint only — it changes nothing and the others go on — and nobody
/// hears of success before the commit that holds their write is durable. One fsync then
/// serves many concurrent API calls, which is what makes durable deposits fast.
///
/// The first write of a transaction runs without a savepoint: should it throw, rolling the
/// transaction back undoes exactly it, and the next write begins a new one. A savepoint
/// keeps the original of every page its write changes, so that it can be rolled back, and
/// past 64 KiB SQLite moves that copy to a temporary file, written page by page. A large
/// write alone in its transaction (a batch of the dispatcher's delivery records, 500 at a
/// time in a forced resync) did that at every commit, for nothing: strace counted 34 668
/// writes to the temporary file in 3 s of a resync, against 2 668 to the WAL and the
/// database.
///
/// A write may also ask to be told as soon as its commit is visible to readers (`visible`),
/// before it is durable: the MWI engine sends the lamp its new state while the WAL is being
/// synced (`WALFlusher`), here, after the commit; the write is answered once it is. Writes
/// that arrive during the sync make the next batch. (Syncing on a thread of its own while
/// the next batch is committed was measured worse on the test VM: the commit's writes to
/// the WAL and its sync contend, and the deposits' p99 at 5 000/s was 5.7–6.4 ms against
/// 3.8–5.2 ms syncing here, at the same throughput at saturation;
/// bench/results/2026-12-07-s23-api.md.) Without a flusher (storage sync `normal`), a
/// commit is answered as soon as it is written.
///
/// The batches are committed on a serial queue of their own, with GRDB's synchronous
/// write: a write costs one thread hop there and one back to its caller (an actor and a
/// task in between cost three more, a third of a deposit's latency).
final class WriteCoalescer: Sendable {
    private let writer: any DatabaseWriter
    /// Keeps the WAL short; told of every commit.
    private let checkpointer: Checkpointer?
    /// Syncs the commits before they are answered; nil: answered unsynced.
    private let flusher: WALFlusher?
    private struct Waiting {
        var pending: [any CoalescedWrite] = []
        var draining = false
    }
    private let waiting = Mutex(Waiting())
    private let queue = DispatchQueue(label: "mwid.storage.group-commit")
    /// The most writes committed in one transaction (bounds the latency of the first).
    private let maximumBatch: Int
    private let commits = Counter(label: "mwid_storage_commits_total")
    private let writes = Counter(label: "mwid_storage_writes_total")
    private let commitTime = Metrics.Timer(label: "mwid_storage_commit_duration")
    private let truncations = Counter(label: "mwid_storage_wal_truncations_total")

    init(writer: any DatabaseWriter, checkpointer: Checkpointer? = nil, flusher: WALFlusher? = nil, maximumBatch: Int = 512) {
        self.writer = writer
        self.checkpointer = checkpointer
        self.flusher = flusher
        self.maximumBatch = maximumBatch
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit(PendingWrite(body: body) { continuation.resume(with: $0) })
        }
    }

    /// The same, told first when its commit is visible (on the commit queue, before the
    /// next batch: keep it short).
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T,
                            visible: @escaping @Sendable (T) -> Void) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit(PendingWrite(body: body, visible: visible) { continuation.resume(with: $0) })
        }
    }

    /// The same without a task: `visible` as above, and `completion` called on the commit
    /// or flush queue once the transaction holding the write is durable (or has failed).
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T,
                            visible: (@Sendable (T) -> Void)? = nil,
                            completion: @escaping @Sendable (Result<T, any Error>) -> Void) {
        submit(PendingWrite(body: body, visible: visible, completion: completion))
    }

    private func submit(_ job: any CoalescedWrite) {
        let start = waiting.withLock { waiting in
            waiting.pending.append(job)
            defer { waiting.draining = true }
            return !waiting.draining
        }
        if start { queue.async { self.drain() } }
    }

    /// On `queue`: commits batches until nothing is waiting.
    private func drain() {
        while true {
            let batch = waiting.withLock { waiting -> [any CoalescedWrite] in
                let batch = Array(waiting.pending.prefix(maximumBatch))
                waiting.pending.removeFirst(batch.count)
                if batch.isEmpty { waiting.draining = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            let start = ContinuousClock.now
            do {
                guard try writer.writeWithoutTransaction({ db in try Self.commit(batch, in: db) }) else {
                    // Every write was refused, each rolled back: nothing to commit or sync.
                    for job in batch { job.finish() }
                    continue
                }
                let elapsed = (ContinuousClock.now - start).components
                commitTime.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
                commits.increment()
                writes.increment(by: batch.count)
                for job in batch { job.committed() }
                let error = flusher?.sync()
                for job in batch {
                    if let error { job.fail(error) } else { job.finish() }
                }
                if checkpointer?.committed() == .truncate {
                    // A checkpoint in full that rewinds the WAL must be the writer's own.
                    _ = try? writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
                    truncations.increment()
                }
            } catch {
                for job in batch { job.fail(error) }
            }
        }
    }

    /// Runs a batch in one transaction. Writes run bare, each in a transaction it begins,
    /// until one succeeds (a refused one rolls its transaction back); the writes after it
    /// join that transaction, each in a savepoint. False when every write was refused and
    /// no transaction is left to commit.
    private static func commit(_ batch: [any CoalescedWrite], in db: Database) throws -> Bool {
        var rest = batch[...]
        while let first = rest.popFirst() {
            try db.beginTransaction(.immediate)
            if first.runFirst(in: db) { break }
            try db.rollback()
            if rest.isEmpty { return false }
        }
        do {
            for job in rest { job.run(in: db) }
            try db.commit()
        } catch {
            try? db.rollback()
            throw error
        }
        return true
    }
}

private protocol CoalescedWrite: Sendable {
    /// Runs inside the batch's transaction, in a savepoint of its own; keeps the outcome.
    func run(in db: Database)
    /// Runs first in a transaction just begun, without a savepoint; keeps the outcome.
    /// False when it threw: the caller rolls the transaction back.
    func runFirst(in db: Database) -> Bool
    /// The transaction committed (visible, maybe not yet durable): tell whoever asked.
    func committed()
    /// The transaction is durable: deliver the kept outcome.
    func finish()
    /// The transaction failed as a whole.
    func fail(_ error: any Error)
}

private final class PendingWrite<T: Sendable>: CoalescedWrite, @unchecked Sendable {
    // `outcome` is written on the database's writer queue inside `run`, and read in
    // `committed` after the write call has returned and in `finish` after that (on the
    // flush queue, handed over through its lock): never at the same time.
    private var outcome: Result<T, any Error>?
    private let body: @Sendable (Database) throws -> T
    private let visible: (@Sendable (T) -> Void)?
    private let completion: @Sendable (Result<T, any Error>) -> Void

    init(body: @escaping @Sendable (Database) throws -> T, visible: (@Sendable (T) -> Void)? = nil,
         completion: @escaping @Sendable (Result<T, any Error>) -> Void) {
        self.body = body
        self.visible = visible
        self.completion = completion
    }

    func run(in db: Database) {
        // The savepoint statements are cached like the others: preparing them anew for
        // every write cost more than the write itself.
        do {
            try db.cachedStatement(sql: "SAVEPOINT coalesced_write").execute()
        } catch {
            outcome = .failure(error)
            return
        }
        do {
            let value = try body(db)
            try db.cachedStatement(sql: "RELEASE SAVEPOINT coalesced_write").execute()
            outcome = .success(value)
        } catch {
            outcome = .failure(error)
            try? db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT coalesced_write").execute()
            try? db.cachedStatement(sql: "RELEASE SAVEPOINT coalesced_write").execute()
        }
    }

    func runFirst(in db: Database) -> Bool {
        do {
            outcome = .success(try body(db))
            return true
        } catch {
            outcome = .failure(error)
            return false
        }
    }

    func committed() {
        if let visible, case .success(let value)? = outcome { visible(value) }
    }

    func finish() {
        completion(outcome ?? .failure(StorageFailure("write produced no result")))
    }

    func fail(_ error: any Error) {
        completion(.failure(error))
    }
}

/// A storage failure that is not a refusal of the caller's input.
public struct StorageFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
