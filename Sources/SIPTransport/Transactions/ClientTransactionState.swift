/// The non-INVITE client transaction of RFC 3261 §17.1.2, as a pure state machine:
/// time is passed in (nanoseconds on any monotonic clock) and the machine says what to
/// do. The transaction layer keeps one per request in flight and drives it from a single
/// timer queue.
struct ClientTransactionState: Sendable {
    enum Phase: Sendable, Equatable { case trying, proceeding, completed, terminated }

    enum Action: Sendable, Equatable {
        case none
        /// Send the request again (Timer E).
        case retransmit
        /// A provisional response arrived: stop fast retransmission, keep waiting.
        case provisional
        /// The final response: hand it to the caller.
        case final
        /// Timer F fired before a final response.
        case timeout
        /// Timer K fired: forget the transaction.
        case terminated
    }

    // Only what the machine still needs after it started, in 48 bytes (a transaction in
    // flight is kept small: 100 000 of them must fit in 100 MB). `deadline` is Timer E
    // while trying or proceeding over UDP, Timer K once completed; `.max` when unarmed.
    let reliable: Bool
    private(set) var phase: Phase = .trying
    private var interval: Int64
    private var deadline: Int64
    private var timeoutAt: Int64
    private let t2: Int64
    private let t4: Int64

    init(now: Int64, reliable: Bool, timers: SIPTimers) {
        self.reliable = reliable
        t2 = timers.t2ns
        t4 = timers.t4ns
        interval = timers.t1ns
        deadline = reliable ? .max : now + timers.t1ns
        timeoutAt = now + timers.timeoutns
    }

    /// When the machine next needs `tick`, or `nil` once terminated.
    var nextDeadline: Int64? {
        switch phase {
        case .trying, .proceeding: return min(deadline, timeoutAt)
        case .completed: return deadline
        case .terminated: return nil
        }
    }

    mutating func receive(statusCode: Int, now: Int64) -> Action {
        switch phase {
        case .trying, .proceeding:
            if statusCode < 200 {
                phase = .proceeding
                return .provisional
            }
            phase = .completed
            deadline = now + (reliable ? 0 : t4)  // Timer K
            return .final
        case .completed, .terminated:
            return .none  // a retransmitted final response, absorbed
        }
    }

    mutating func tick(now: Int64) -> Action {
        switch phase {
        case .trying, .proceeding:
            if now >= timeoutAt {
                phase = .terminated
                return .timeout
            }
            if now >= deadline {
                interval = phase == .proceeding ? t2 : min(interval * 2, t2)
                deadline = now + interval
                return .retransmit
            }
            return .none
        case .completed:
            if now >= deadline {
                phase = .terminated
                return .terminated
            }
            return .none
        case .terminated:
            return .none
        }
    }

    /// A transport error ends the transaction at once.
    mutating func fail() {
        phase = .terminated
    }
}
