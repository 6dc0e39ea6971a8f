import Foundation
import MWI
import Storage
import Synchronization
import Testing
import UnifiedMessaging

/// The periodic refresh over real SQLite: every mailbox once per interval, spread across
/// it, and at its pace even when a durable write takes longer than the gap between two
/// mailboxes.
@Suite struct RefreshSchedulerTests {
    final class Marked: Sendable {
        let box = Mutex<(marks: [(String, ContinuousClock.Instant)], writes: Int)>(([], 0))
        func add(_ identities: [String]) {
            let now = ContinuousClock.now
            box.withLock { $0.marks += identities.map { ($0, now) }; $0.writes += 1 }
        }
        var all: [(String, ContinuousClock.Instant)] { box.withLock { $0.marks } }
        var writes: Int { box.withLock { $0.writes } }
    }

    @Test func twoThousandMailboxesInOneSecondKeepThePace() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-refresh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        // Concurrent creates share commits (group commit): the directory is made quickly.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<2000 {
                group.addTask {
                    _ = try await storage.create(UMMailbox(identity: String(format: "user%04d", i), extension: String(format: "%04d", i),
                                                           dialPlan: "Paris", policy: "Default"))
                }
            }
            try await group.waitForAll()
        }
        let marked = Marked()
        let scheduler = RefreshScheduler(storage: storage, interval: .seconds(1)) { marked.add($0) }
        let start = ContinuousClock.now
        let running = Task { await scheduler.run() }
        defer { running.cancel() }
        let deadline = start + .seconds(10)
        while marked.all.count < 2000, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let all = marked.all
        #expect(Set(all.prefix(2000).map(\.0)).count == 2000, "every mailbox once: \(all.count)")
        guard let last = all.prefix(2000).last?.1 else { return }
        // Spread (not a burst at start), and at the pace: the mailboxes due at each wake-up
        // (20 ms apart at least) are marked in one write, so a second holds about fifty
        // writes, not 2000 durable commits. The time bound leaves room for a loaded machine.
        #expect(last - start >= .milliseconds(800), "\(last - start)")
        #expect(last - start <= .seconds(4), "\(last - start)")
        #expect(marked.writes <= 200, "\(marked.writes) writes for 2000 mailboxes")
        let firstQuarter = all.prefix(2000).filter { $0.1 - start < .milliseconds(250) }.count
        #expect(firstQuarter < 1000, "\(firstQuarter) in the first 250 ms")
        // The mailboxes' states were made pending again (durably).
        #expect(try await storage.pendingDeliveries(limit: 10_000).count == 2000)
    }
}
