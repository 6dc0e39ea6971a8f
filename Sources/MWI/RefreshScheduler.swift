public import Logging
public import Storage
import UnifiedMessaging

/// Re-sends every mailbox's state once per `refreshInterval` (SPEC §2.6), spread evenly
/// across the interval: one task walks the mailboxes in identity order, the i-th (from 1) due
/// at cycle start + i × interval ÷ count — no burst at start-up, on the hour or after a
/// restart. The mailboxes due at each wake-up (at least 20 ms apart) are marked in one
/// write, so the pace holds even when one durable write takes longer than the gap between
/// two mailboxes (a million mailboxes every ten minutes: 0.6 ms).
public actor RefreshScheduler {
    private let storage: any Storage
    private let interval: Duration
    private let logger: Logger
    private let refresh: @Sendable ([String]) -> Void
    /// Wake-ups are at least this far apart.
    static let tick = Duration.milliseconds(20)
    /// The most mailboxes marked in one write.
    static let batch = 500

    public init(storage: any Storage, interval: Duration, logger: Logger = Logger(label: "mwid.refresh"),
                refresh: @escaping @Sendable ([String]) -> Void) {
        self.storage = storage
        self.interval = interval
        self.logger = logger
        self.refresh = refresh
    }

    /// Runs cycles until the task is cancelled.
    public func run() async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let count = (try? await storage.mailboxCount()) ?? 0
            guard count > 0 else {
                try? await Task.sleep(for: min(interval, .seconds(60)))
                continue
            }
            let pause = max(interval / count, .nanoseconds(1))
            let start = clock.now
            var index = 0
            var after: String?
            while !Task.isCancelled {
                guard let page = try? await storage.mailboxes(MailboxQuery(after: after, limit: Self.batch)), !page.isEmpty else { break }
                var pending = page.map(\.identity)[...]
                while !pending.isEmpty {
                    // How many of the cycle's mailboxes are due by now (the first one a pause after the start).
                    let due = Int((clock.now - start) / pause) - index
                    guard due > 0 else {
                        try? await Task.sleep(until: max(start + pause * (index + 1), clock.now + Self.tick), clock: clock)
                        guard !Task.isCancelled else { return }
                        continue
                    }
                    let wokeAt = clock.now
                    let batch = Array(pending.prefix(due))
                    pending = pending.dropFirst(batch.count)
                    index += batch.count
                    if let marked = try? await storage.markForRefresh(.mailboxes(batch)), !marked.isEmpty { refresh(marked) }
                    // Wake-ups a tick apart even when a write takes longer than the pause
                    // between two mailboxes: what falls due meanwhile goes in the next write
                    // (else a slow disk would make it one write per mailbox).
                    if !pending.isEmpty, clock.now < wokeAt + Self.tick {
                        try? await Task.sleep(until: wokeAt + Self.tick, clock: clock)
                        guard !Task.isCancelled else { return }
                    }
                }
                after = page.last?.identity
            }
            // The last mailbox went at the end of the interval: the next cycle starts now.
        }
    }
}
