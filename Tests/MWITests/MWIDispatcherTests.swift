import Foundation
import MWI
import SIP
import SIPTransport
import Storage
import Testing
import UnifiedMessaging

/// A gateway stand-in for unit tests: records every request and answers with `respond`;
/// `hold` keeps answers back until `release()` (a slow peer).
actor FakeGateway: NotifyTransport {
    private(set) var received: [SIPMessage] = []
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private let respond: @Sendable (SIPMessage, Int) -> Result<SIPMessage, SIPTransportError>

    init(respond: @escaping @Sendable (SIPMessage, Int) -> Result<SIPMessage, SIPTransportError> = { request, _ in
        .success(request.makeResponse(statusCode: 200))
    }) {
        self.respond = respond
    }

    func hold() { held = true }

    /// Holds only the requests to this user (the Request-URI's), until `release()`.
    func hold(user: String) { heldUsers.insert(user) }
    private var heldUsers: Set<String> = []

    func release() {
        held = false
        heldUsers = []
        for w in waiting { w.resume() }
        waiting = []
    }

    nonisolated func send(_ request: SIPMessage, to peer: SIPPeer) async throws(SIPTransportError) -> SIPMessage {
        let index = await record(request)
        await waitIfHeld(request)
        await answering()
        switch respond(request, index) {
        case .success(let response): return response
        case .failure(let error): throw error
        }
    }

    private func record(_ request: SIPMessage) -> Int {
        received.append(request)
        unanswered += 1
        mostUnanswered = max(mostUnanswered, unanswered)
        return received.count - 1
    }

    private func answering() { unanswered -= 1 }

    /// Requests received and not yet answered, now and at the most.
    private(set) var unanswered = 0
    private(set) var mostUnanswered = 0

    private func waitIfHeld(_ request: SIPMessage) async {
        guard held || heldUsers.contains(request.requestURI?.user ?? "") else { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    nonisolated func sentBy(_ transport: SIPTransportKind) async -> (host: String, port: Int) { ("192.0.2.1", 5060) }

    /// The voice counts of each NOTIFY received, in order.
    func summaries() -> [String] {
        received.compactMap { request in
            (try? MessageSummary(parsing: request.body)).flatMap { $0[.voice] }.map { "\($0.new)/\($0.old)" }
        }
    }
}

/// Waits (bounded) for `condition`; the MWI suites' one wait. It looks once more after the
/// deadline, since the wait itself may have been kept from running on a loaded machine.
func eventually(_ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    if try await condition() { return }
    Issue.record("condition not met in time")
}

@Suite struct MWIDispatcherTests {
    func storage() async throws -> SQLiteStorage {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-mwi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        _ = try await storage.create(IPGateway(name: "pbx1", address: "192.0.2.10", transport: .udp, dialPlans: ["Paris"],
                                               username: "mwid", password: "secret"))
        _ = try await storage.create(UMMailbox(identity: "alice", extension: "1234", dialPlan: "Paris", policy: "Default"))
        return storage
    }

    func deposit(_ storage: SQLiteStorage, _ n: Int) async throws {
        _ = try await storage.deposit(VoiceMessageDeposit(from: "+33", durationSeconds: 1), mailbox: "alice",
                                      id: UUID().uuidString, at: Date())
    }

    @Test func tenChangesWhileThePeerIsSlowGiveOneNotifyWithTheFinalCounts() async throws {
        let storage = try await storage()
        let gateway = FakeGateway()
        let dispatcher = MWIDispatcher(storage: storage, transport: gateway, settings: MWISettings(notifyInterval: .zero))
        await gateway.hold()
        try await deposit(storage, 0)
        dispatcher.stateChanged(mailbox: "alice")
        try await eventually { await gateway.received.count == 1 }
        for i in 1...10 {
            try await deposit(storage, i)
            dispatcher.stateChanged(mailbox: "alice")
        }
        await gateway.release()
        try await eventually { try await storage.deliveryContext(mailbox: "alice").isPending == false }
        #expect(await gateway.summaries() == ["1/0", "11/0"])
    }

    @Test func atMostOneNotifyPerMailboxPerInterval() async throws {
        let storage = try await storage()
        let gateway = FakeGateway()
        let interval = Duration.seconds(2)
        let dispatcher = MWIDispatcher(storage: storage, transport: gateway, settings: MWISettings(notifyInterval: interval))
        try await deposit(storage, 0)
        let start = ContinuousClock.now
        dispatcher.stateChanged(mailbox: "alice")
        try await eventually { await gateway.received.count == 1 }
        let first = ContinuousClock.now
        try await deposit(storage, 1)
        dispatcher.stateChanged(mailbox: "alice")
        try await deposit(storage, 2)
        dispatcher.stateChanged(mailbox: "alice")
        try await eventually { await gateway.received.count == 2 }
        let second = ContinuousClock.now
        // The first change goes without waiting for any interval; the next two wait for
        // it and are coalesced into one NOTIFY. The interval runs from when the first was
        // read, which is after `start` and before the test sees it arrive (a loaded
        // machine may show it late): the bound is taken from `start`.
        #expect(first - start < interval * 0.75, "the first change goes at once")
        #expect(second - start >= interval, "the next waits for the interval")
        #expect(await gateway.summaries() == ["1/0", "3/0"])
    }

    @Test func aDigestChallengeIsAnsweredOnceWithTheGatewaysCredentials() async throws {
        let storage = try await storage()
        let gateway = FakeGateway { request, index in
            if index == 0 {
                var response = request.makeResponse(statusCode: 401)
                response.headers.add(.wwwAuthenticate, #"Digest realm="pbx", nonce="abc123", qop="auth", algorithm=MD5"#)
                return .success(response)
            }
            return .success(request.makeResponse(statusCode: 200))
        }
        let dispatcher = MWIDispatcher(storage: storage, transport: gateway, settings: MWISettings(notifyInterval: .zero))
        try await deposit(storage, 0)
        dispatcher.stateChanged(mailbox: "alice")
        try await eventually { try await storage.deliveryContext(mailbox: "alice").isPending == false }
        let requests = await gateway.received
        #expect(requests.count == 2)
        let credentials = try #require(try requests.last?.authorization().first)
        let answer = try DigestCredentials(credentials)
        #expect(answer.username == "mwid" && answer.realm == "pbx" && answer.nonce == "abc123")
        let expected = SIPDigest.answer(try DigestChallenge(SIPAuthHeader(parsing: #"Digest realm="pbx", nonce="abc123", qop="auth", algorithm=MD5"#)),
                                        method: .notify, uri: answer.uri, username: "mwid", password: "secret",
                                        cnonce: answer.cnonce ?? "", nonceCount: 1)
        #expect(answer.response == expected.response)
        #expect(try requests.last?.cseq()?.sequence == 2)
    }

    @Test func aDisabledPolicySendsNothingAndFailuresAreRecorded() async throws {
        let storage = try await storage()
        let gateway = FakeGateway { _, _ in .failure(.timeout) }
        let dispatcher = MWIDispatcher(storage: storage, transport: gateway,
                                       settings: MWISettings(notifyInterval: .zero, retryWindow: .seconds(1),
                                                             retryBackoff: .milliseconds(50)))
        _ = try await storage.updatePolicy(named: "Default") { $0.allowMessageWaitingIndicator = false }
        try await deposit(storage, 0)
        dispatcher.stateChanged(mailbox: "alice")
        try await Task.sleep(for: .milliseconds(200))
        #expect(await gateway.received.isEmpty)

        _ = try await storage.updatePolicy(named: "Default") { $0.allowMessageWaitingIndicator = true }
        dispatcher.stateChanged(mailbox: "alice")
        try await eventually { try await storage.events(EventQuery(subject: "alice")).contains { $0.kind == "mwi.failed" } }
        // Attempts are written in batches after they happen (recordInterval): the last ones
        // may land after the event, on a loaded machine noticeably so.
        try await eventually { try await storage.attempts(mailbox: "alice", limit: 50).count >= 2 }
        let attempts = try await storage.attempts(mailbox: "alice", limit: 50)
        #expect(attempts.count >= 2 && attempts.allSatisfy { !$0.delivered && $0.response == "transaction timed out" })
        #expect(try await storage.deliveryContext(mailbox: "alice").isPending)
    }
}

extension MWIDispatcherTests {
    /// Mailboxes user0… (extensions 2000…) of the Paris dial plan, each with a new message.
    func mailboxesWithAMessage(_ storage: SQLiteStorage, _ count: Int) async throws {
        for i in 0..<count {
            _ = try await storage.create(UMMailbox(identity: "user\(i)", extension: String(format: "2%03d", i), dialPlan: "Paris",
                                                   policy: "Default"))
            _ = try await storage.deposit(VoiceMessageDeposit(from: "+33", durationSeconds: 1), mailbox: "user\(i)",
                                          id: UUID().uuidString, at: Date())
        }
    }

    @Test func manyMailboxesAreDeliveredWithinTheConcurrencyBudget() async throws {
        let storage = try await storage()
        try await mailboxesWithAMessage(storage, 40)
        let gateway = FakeGateway()
        let dispatcher = MWIDispatcher(storage: storage, transport: gateway,
                                       settings: MWISettings(notifyInterval: .zero, concurrency: 3))
        await dispatcher.resume()  // picks up the 40 pending states, 3 at a time
        try await eventually {
            let pending = try await storage.pendingDeliveries(limit: 100)
            let idle = await dispatcher.backlog() == (0, 0)
            return pending.isEmpty && idle
        }
        #expect(await gateway.received.count == 40)
    }

    @Test func aSlowAnswerHoldsOnlyItsOwnPlace() async throws {
        let storage = try await storage()
        try await mailboxesWithAMessage(storage, 12)
        // The PBX is slow to answer one NOTIFY (a lost datagram waiting for T1, say).
        let gateway = FakeGateway()
        await gateway.hold(user: "2000")
        let dispatcher = MWIDispatcher(storage: storage, transport: gateway,
                                       settings: MWISettings(notifyInterval: .zero, concurrency: 4, batchSize: 4))
        await dispatcher.resume()
        // The other eleven go through meanwhile, four at a time at most: the three sent
        // with the slow one do not keep their places until it is answered.
        try await eventually {
            let received = await gateway.received.count
            let unanswered = await gateway.unanswered
            return received == 12 && unanswered == 1
        }
        #expect(await gateway.mostUnanswered <= 4)
        try await eventually { await dispatcher.backlog() == (1, 0) }  // the eleven answers taken in
        await gateway.release()
        try await eventually {
            let pending = try await storage.pendingDeliveries(limit: 100)
            let idle = await dispatcher.backlog() == (0, 0)
            return pending.isEmpty && idle
        }
        #expect(await gateway.received.count == 12)
    }

    @Test func a489IsReportedAsAGatewayThatWantsSubscriptions() async throws {
        let storage = try await storage()
        let gateway = FakeGateway { request, _ in .success(request.makeResponse(statusCode: 489)) }
        let dispatcher = MWIDispatcher(storage: storage, transport: gateway,
                                       settings: MWISettings(notifyInterval: .zero, retryWindow: .seconds(60),
                                                             retryBackoff: .milliseconds(10)))
        try await deposit(storage, 0)
        dispatcher.stateChanged(mailbox: "alice")
        try await eventually {
            let idle = await dispatcher.backlog() == (0, 0)
            let sent = await gateway.received.count
            return idle && sent > 0
        }
        // Reported once, not retried for the whole window: the gateway wants subscriptions.
        #expect(try await storage.events(EventQuery(subject: "pbx1")).filter { $0.kind == "mwi.bad-event" }.count == 1)
        #expect(await gateway.received.count == 1)
        try await eventually { try await storage.attempts(mailbox: "alice", limit: 5).first?.response == "489 Bad Event" }
    }
}
