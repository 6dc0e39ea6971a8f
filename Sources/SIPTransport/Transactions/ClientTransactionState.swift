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

    let reliable: Bool
    let timers: SIPTimers
    private(set) var phase: Phase = .trying
    private var interval: Int64
    private var retransmitAt: Int64?
    private var timeoutAt: Int64
    private var completedUntil: Int64?

    init(now: Int64, reliable: Bool, timers: SIPTimers) {
        self.reliable = reliable
        self.timers = timers
        interval = timers.t1ns
        retransmitAt = reliable ? nil : now + timers.t1ns
        timeoutAt = now + timers.timeoutns
    }

    /// When the machine next needs `tick`, or `nil` once terminated.
    var nextDeadline: Int64? {
        switch phase {
        case .trying, .proceeding: return min(retransmitAt ?? .max, timeoutAt)
        case .completed: return completedUntil
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
            retransmitAt = nil
            completedUntil = now + (reliable ? 0 : timers.t4ns)
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
            if let at = retransmitAt, now >= at {
                interval = phase == .proceeding ? timers.t2ns : min(interval * 2, timers.t2ns)
                retransmitAt = now + interval
                return .retransmit
            }
            return .none
        case .completed:
            if let until = completedUntil, now >= until {
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
