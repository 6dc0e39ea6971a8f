/// Server transactions of RFC 3261 §17.2 as a pure state machine: non-INVITE (§17.2.2)
/// and INVITE answered with a final response (§17.2.1, where mwid only ever sends
/// non-2xx finals or lets the dialog layer own a 2xx).
struct ServerTransactionState: Sendable {
    enum Phase: Sendable, Equatable { case trying, proceeding, completed, confirmed, terminated }

    enum Action: Sendable, Equatable {
        case none
        /// Send the last response again.
        case resendResponse
        /// Forget the transaction.
        case terminated
    }

    let isInvite: Bool
    let reliable: Bool
    let timers: SIPTimers
    private(set) var phase: Phase = .trying
    private var hasProvisional = false
    private var retransmitAt: Int64?
    private var interval: Int64 = 0
    private var endAt: Int64?

    init(isInvite: Bool, reliable: Bool, timers: SIPTimers) {
        self.isInvite = isInvite
        self.reliable = reliable
        self.timers = timers
    }

    var nextDeadline: Int64? {
        guard phase != .terminated else { return nil }
        switch (retransmitAt, endAt) {
        case let (r?, e?): return min(r, e)
        case let (r?, nil): return r
        case let (nil, e?): return e
        default: return nil
        }
    }

    /// The transaction user's response is being sent.
    mutating func respond(statusCode: Int, now: Int64) {
        guard phase == .trying || phase == .proceeding else { return }
        if statusCode < 200 {
            phase = .proceeding
            hasProvisional = true
            return
        }
        if isInvite && statusCode < 300 {
            // A 2xx to INVITE ends the transaction; the dialog layer retransmits it.
            phase = .terminated
            return
        }
        phase = .completed
        if isInvite {
            // Timer G retransmits until ACK; Timer H gives up.
            if !reliable {
                interval = timers.t1ns
                retransmitAt = now + interval
            }
            endAt = now + timers.timeoutns
        } else {
            // Timer J absorbs retransmitted requests.
            endAt = now + (reliable ? 0 : timers.timeoutns)
        }
    }

    /// The same request arrived again.
    func receiveRetransmission() -> Action {
        switch phase {
        case .proceeding: return hasProvisional ? .resendResponse : .none
        case .completed: return .resendResponse
        case .trying, .confirmed, .terminated: return .none
        }
    }

    /// An ACK for a non-2xx final response to INVITE.
    mutating func receiveAck(now: Int64) {
        guard isInvite, phase == .completed else { return }
        phase = .confirmed
        retransmitAt = nil
        endAt = now + (reliable ? 0 : timers.t4ns)  // Timer I
    }

    mutating func tick(now: Int64) -> Action {
        switch phase {
        case .completed, .confirmed:
            if let e = endAt, now >= e {
                phase = .terminated
                return .terminated
            }
            if let r = retransmitAt, now >= r {
                interval = min(interval * 2, timers.t2ns)
                retransmitAt = now + interval
                return .resendResponse
            }
            return .none
        case .terminated:
            return .none
        case .trying, .proceeding:
            return .none
        }
    }
}
