public import Logging
public import Storage
import UnifiedMessaging

/// Re-sends every mailbox's state once per `refreshInterval` (SPEC §2.6), spread evenly
/// across the interval: one task walks the mailboxes in identity order, one at a time,
/// pausing interval ÷ count between them — no burst at start-up, on the hour or after a
/// restart.
public actor RefreshScheduler {
    private let storage: any Storage
    private let interval: Duration
    private let logger: Logger
    private let refresh: @Sendable (String) -> Void

    public init(storage: any Storage, interval: Duration, logger: Logger = Logger(label: "mwid.refresh"),
                refresh: @escaping @Sendable (String) -> Void) {
        self.storage = storage
        self.interval = interval
        self.logger = logger
        self.refresh = refresh
    }

    /// Runs cycles until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            let count = (try? await storage.mailboxCount()) ?? 0
            guard count > 0 else {
                try? await Task.sleep(for: min(interval, .seconds(60)))
                continue
            }
            let pause = interval / count
            var after: String?
            while !Task.isCancelled {
                guard let page = try? await storage.mailboxes(MailboxQuery(after: after, limit: 500)), !page.isEmpty else { break }
                for mailbox in page {
                    try? await Task.sleep(for: pause)
                    guard !Task.isCancelled else { return }
                    if (try? await storage.markForRefresh(.mailbox(mailbox.identity))) != nil { refresh(mailbox.identity) }
                }
                after = page.last?.identity
            }
        }
    }
}
