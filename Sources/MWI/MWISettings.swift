/// The MWI engine's intervals. Every one is configurable so that tests shorten them.
public struct MWISettings: Sendable {
    /// At most one NOTIFY per mailbox in this interval (RFC 3842 asks for 5 s): the first
    /// change goes at once, the ones after it inside the interval are coalesced.
    public var notifyInterval: Duration
    /// How long a state keeps being retried when every gateway fails (Exchange: 5 min).
    public var retryWindow: Duration
    /// Backoff between rounds over the gateways: doubles from `retryBackoff` up to `maximumRetryBackoff`.
    public var retryBackoff: Duration
    public var maximumRetryBackoff: Duration
    /// Deliveries in progress at once, each with one NOTIFY unanswered at a time: the
    /// NOTIFY window for gateways (`mwi.notifyWindow`).
    public var concurrency: Int
    /// Mailboxes read and sent together (one storage read each).
    public var batchSize: Int
    /// What deliveries did (attempts, acknowledgements) is written to storage together,
    /// this often.
    public var recordInterval: Duration
    /// SIP OPTIONS to every enabled gateway this often (nil: no health checks).
    public var healthInterval: Duration?
    /// Every mailbox's state is re-sent once per this interval, spread evenly (nil: never).
    public var refreshInterval: Duration?

    public init(notifyInterval: Duration = .seconds(5), retryWindow: Duration = .seconds(300),
                retryBackoff: Duration = .seconds(1), maximumRetryBackoff: Duration = .seconds(30), concurrency: Int = 2048, batchSize: Int = 256, recordInterval: Duration = .milliseconds(20),
                healthInterval: Duration? = .seconds(30), refreshInterval: Duration? = .seconds(12 * 3600)) {
        self.healthInterval = healthInterval
        self.refreshInterval = refreshInterval
        self.notifyInterval = notifyInterval
        self.retryWindow = retryWindow
        self.retryBackoff = retryBackoff
        self.maximumRetryBackoff = maximumRetryBackoff
        self.concurrency = concurrency
        self.batchSize = max(1, batchSize)
        self.recordInterval = recordInterval
    }
}
