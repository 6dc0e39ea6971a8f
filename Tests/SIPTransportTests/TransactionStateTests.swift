import Testing
@testable import SIPTransport

/// The RFC 3261 §17 state machines, driven with a fake clock (nanoseconds).
@Suite struct TransactionStateTests {
    let ms: Int64 = 1_000_000
    let timers = SIPTimers(t1: .milliseconds(500), t2: .seconds(4), t4: .seconds(5))

    @Test func udpClientRetransmitsDoublingUpToT2ThenTimesOut() {
        var tx = ClientTransactionState(now: 0, reliable: false, timers: timers)
        var sends: [Int64] = []
        var now: Int64 = 0
        var result: ClientTransactionState.Action = .none
        while let next = tx.nextDeadline, result != .timeout {
            now = next
            result = tx.tick(now: now)
            if result == .retransmit { sends.append(now / ms) }
        }
        // Timer E: 500, 1000, 2000, 4000, 4000 … ms apart; Timer F at 64 × T1 = 32 s.
        #expect(sends.prefix(6) == [500, 1500, 3500, 7500, 11500, 15500])
        #expect(now == 32_000 * ms)
        #expect(result == .timeout)
        #expect(tx.phase == .terminated)
        #expect(tx.nextDeadline == nil)
    }

    @Test func provisionalResponseSlowsRetransmissionToT2() {
        var tx = ClientTransactionState(now: 0, reliable: false, timers: timers)
        #expect(tx.tick(now: 500 * ms) == .retransmit)
        #expect(tx.receive(statusCode: 100, now: 600 * ms) == .provisional)
        #expect(tx.phase == .proceeding)
        #expect(tx.nextDeadline == 1_500 * ms)
        #expect(tx.tick(now: 1_500 * ms) == .retransmit)
        #expect(tx.nextDeadline == 5_500 * ms)  // T2 from now on
    }

    @Test func finalResponseCompletesThenTimerKEnds() {
        var tx = ClientTransactionState(now: 0, reliable: false, timers: timers)
        #expect(tx.receive(statusCode: 200, now: 100 * ms) == .final)
        #expect(tx.phase == .completed)
        #expect(tx.receive(statusCode: 200, now: 200 * ms) == .none)  // retransmitted response absorbed
        #expect(tx.nextDeadline == 5_100 * ms)
        #expect(tx.tick(now: 5_100 * ms) == .terminated)
    }

    @Test func reliableClientNeverRetransmitsAndEndsAtOnce() {
        var tx = ClientTransactionState(now: 0, reliable: true, timers: timers)
        #expect(tx.nextDeadline == 32_000 * ms)  // only Timer F
        #expect(tx.tick(now: 31_999 * ms) == .none)
        #expect(tx.receive(statusCode: 486, now: 10 * ms) == .final)
        #expect(tx.nextDeadline == 10 * ms)  // Timer K = 0
    }

    @Test func configurableTimeout() {
        var tx = ClientTransactionState(now: 0, reliable: false, timers: SIPTimers(t1: .milliseconds(10), timeout: .milliseconds(35)))
        var actions: [ClientTransactionState.Action] = []
        while let next = tx.nextDeadline { actions.append(tx.tick(now: next)) }
        #expect(actions == [.retransmit, .retransmit, .timeout])
    }

    @Test func nonInviteServerAbsorbsRetransmissionsUntilTimerJ() {
        var tx = ServerTransactionState(isInvite: false, reliable: false, timers: timers)
        #expect(tx.receiveRetransmission() == .none)  // no response yet
        tx.respond(statusCode: 200, now: 0)
        #expect(tx.phase == .completed)
        #expect(tx.receiveRetransmission() == .resendResponse)
        #expect(tx.nextDeadline == 32_000 * ms)
        #expect(tx.tick(now: 32_000 * ms) == .terminated)
        var reliable = ServerTransactionState(isInvite: false, reliable: true, timers: timers)
        reliable.respond(statusCode: 404, now: 7)
        #expect(reliable.nextDeadline == 7)
    }

    @Test func inviteServerRetransmitsFinalUntilAck() {
        var tx = ServerTransactionState(isInvite: true, reliable: false, timers: timers)
        tx.respond(statusCode: 405, now: 0)
        #expect(tx.tick(now: 500 * ms) == .resendResponse)  // Timer G
        #expect(tx.nextDeadline == 1_500 * ms)
        tx.receiveAck(now: 600 * ms)
        #expect(tx.phase == .confirmed)
        #expect(tx.nextDeadline == 5_600 * ms)  // Timer I
        #expect(tx.tick(now: 5_600 * ms) == .terminated)
    }

    @Test func timerQueuePopsInOrder() {
        var q = TimerQueue<UInt64>()
        var rng = SystemRandomNumberGenerator()
        var deadlines: [Int64] = []
        for id in 0..<2_000 {
            let d = Int64.random(in: 0..<1_000_000, using: &rng)
            deadlines.append(d)
            q.schedule(UInt64(id), at: d)
        }
        #expect(q.earliest == deadlines.min())
        let half = q.popDue(now: 500_000)
        #expect(half.map(\.deadline) == deadlines.filter { $0 <= 500_000 }.sorted())
        let rest = q.popDue(now: .max)
        #expect(rest.map(\.deadline) == deadlines.filter { $0 > 500_000 }.sorted())
        #expect(q.isEmpty)
    }
}
