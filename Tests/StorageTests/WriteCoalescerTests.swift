import Dispatch
import Foundation
import GRDB
import Synchronization
import Testing
@testable import Storage

/// Group commit on a real SQLite file: which writes of a batch are kept when some throw.
@Suite struct WriteCoalescerTests {
    struct Refused: Error {}

    let folder: URL
    let queue: DatabaseQueue
    let coalescer: WriteCoalescer

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-coalescer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        queue = try DatabaseQueue(path: folder.appendingPathComponent("t.sqlite").path)
        try queue.write { db in try db.execute(sql: "CREATE TABLE t (x INTEGER PRIMARY KEY)") }
        coalescer = WriteCoalescer(writer: queue)
    }

    /// A write that inserts `values`, then throws when told to: what it inserted must go
    /// with it.
    func inserting(_ values: [Int], thenThrow: Bool) -> @Sendable (Database) throws -> Int {
        { db in
            for value in values { try db.execute(sql: "INSERT INTO t (x) VALUES (?)", arguments: [value]) }
            if thenThrow { throw Refused() }
            return values.count
        }
    }

    func rows() throws -> [Int] { try queue.read { db in try Int.fetchAll(db, sql: "SELECT x FROM t ORDER BY x") } }

    /// Holds the commit queue until `release` is signalled, so that the writes submitted
    /// meanwhile are committed together, in the order submitted, in the next batch.
    func holdTheQueue(release: DispatchSemaphore) async {
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            coalescer.write({ db -> Int in
                try db.execute(sql: "INSERT INTO t (x) VALUES (0)")
                started.resume()
                release.wait()
                return 1
            }, completion: { _ in })
        }
    }

    /// Submits the writes one after the other (so in this order in one batch) and returns
    /// which were kept.
    func batch(_ writes: [@Sendable (Database) throws -> Int]) async -> [Bool] {
        let release = DispatchSemaphore(value: 0)
        await holdTheQueue(release: release)
        let outcomes = Mutex<[Int: Bool]>([:])
        return await withCheckedContinuation { (done: CheckedContinuation<[Bool], Never>) in
            for (index, write) in writes.enumerated() {
                coalescer.write(write, completion: { result in
                    let all = outcomes.withLock { outcomes -> [Int: Bool]? in
                        outcomes[index] = (try? result.get()) != nil
                        return outcomes.count == writes.count ? outcomes : nil
                    }
                    if let all { done.resume(returning: (0..<writes.count).map { all[$0] ?? false }) }
                })
            }
            release.signal()
        }
    }

    /// The first write of a batch runs without a savepoint: when it throws, the transaction
    /// is rolled back (taking only it) and the next write begins a new one.
    @Test func aRefusedFirstWriteTakesNothingElseWithIt() async throws {
        let kept = await batch([inserting([10, 11], thenThrow: true), inserting([20], thenThrow: false),
                                inserting([30, 31], thenThrow: true), inserting([40], thenThrow: false)])
        #expect(kept == [false, true, false, true])
        #expect(try rows() == [0, 20, 40])
    }

    /// Every write of a batch refused: nothing is committed, and the next batch is not
    /// hindered by a transaction left open.
    @Test func aBatchOfRefusedWritesChangesNothing() async throws {
        let kept = await batch([inserting([1], thenThrow: true), inserting([2, 3], thenThrow: true)])
        #expect(kept == [false, false])
        #expect(try rows() == [0])
        let after = try await coalescer.write(inserting([5], thenThrow: false))
        #expect(after == 1)
        #expect(try rows() == [0, 5])
    }

    /// A write that breaks a constraint in the middle of a batch is refused alone.
    @Test func aConstraintBrokenMidBatchRefusesOnlyItsWrite() async throws {
        let kept = await batch([inserting([7], thenThrow: false), inserting([8, 7], thenThrow: false), inserting([9], thenThrow: false)])
        #expect(kept == [true, false, true])
        #expect(try rows() == [0, 7, 9])
    }
}
