import Foundation
import MWI
import NIOCore
import SIP
import SIPTransport
import Storage
import Synchronization
import Testing
import UnifiedMessaging

/// A clock a test can move forward (nonce expiry without waiting).
final class ShiftedClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)
    func advance(_ seconds: TimeInterval) { offset.withLock { $0 += seconds } }
    var now: @Sendable () -> Date { { [self] in Date().addingTimeInterval(offset.withLock { $0 }) } }
}

/// A phone subscribing to a mailbox, as far as the notifier can tell: its dialog and its
/// digest credentials.
struct Phone {
    var target = SIPURI(user: "1234", host: "mwid.example.com")
    var username = "1234"
    var password = "secret"
    var algorithm = DigestAlgorithm.md5
    var source = try! SocketAddress(ipAddress: "192.0.2.50", port: 5062)
    let callID = UUID().uuidString
    var fromTag = SIPIdentifiers.tag()
    var cseq: UInt32 = 0
    var toTag: String?

    mutating func request(expires: Int?, authorization: String? = nil, event: String = "message-summary",
                          contact: String = "<sip:phone@192.0.2.50:5062>") -> SIPIncomingRequest {
        cseq += 1
        var headers: [(SIPHeaderName, String)] = [(.event, event), (.accept, "application/simple-message-summary")]
        if let expires { headers.append((.expires, "\(expires)")) }
        if let authorization { headers.append((.authorization, authorization)) }
        let message = SIPMessage.request(
            method: .subscribe, uri: target,
            via: SIPVia(transport: "UDP", host: "192.0.2.50", port: 5062, branch: SIPIdentifiers.branch()),
            from: SIPNameAddress(uri: target, parameters: [("tag", fromTag)]),
            to: SIPNameAddress(uri: target, parameters: toTag.map { [("tag", $0)] } ?? []),
            callID: callID, cseq: cseq, contact: try? SIPNameAddress(parsing: contact), headers: headers)
        return SIPIncomingRequest(message: message, transport: .udp, source: source)
    }

    /// The credentials answering the challenge of `response` with this phone's algorithm.
    func answer(_ response: SIPMessage, nonceCount: UInt32 = 1) -> String? {
        let challenges = ((try? response.wwwAuthenticate()) ?? []).compactMap { try? DigestChallenge($0) }
        guard let challenge = challenges.first(where: { $0.algorithm == algorithm }) else { return nil }
        var rng = SystemRandomNumberGenerator()
        return SIPDigest.answer(challenge, method: .subscribe, uri: target.description, username: username, password: password,
                                cnonce: SIPDigest.makeCNonce(using: &rng), nonceCount: nonceCount).header.description
    }
}

@Suite(.serialized) struct SubscriptionServerTests {
    struct Setup {
        let storage: SQLiteStorage
        let phones: FakeGateway
        let server: SubscriptionServer
    }

    func setup(settings: SubscriptionSettings = SubscriptionSettings(), clock: ShiftedClock = ShiftedClock(),
               respond: @escaping @Sendable (SIPMessage, Int) -> Result<SIPMessage, SIPTransportError> = { request, _ in
                   .success(request.makeResponse(statusCode: 200))
               }) async throws -> Setup {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-subs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        _ = try await storage.create(UMMailbox(identity: "alice@example.com", extension: "1234", dialPlan: "Paris",
                                               policy: "Default", sipPassword: "secret"))
        _ = try await storage.create(UMMailbox(identity: "bob@example.com", extension: "1235", dialPlan: "Paris",
                                               policy: "Default", sipPassword: "bobs"))
        let phones = FakeGateway(respond: respond)
        let server = SubscriptionServer(storage: storage, transport: phones, settings: settings, clock: clock.now)
        return Setup(storage: storage, phones: phones, server: server)
    }

    /// Subscribes (challenge, credentials) and runs what follows the 200; the final response.
    @discardableResult
    func subscribe(_ s: Setup, _ phone: inout Phone, expires: Int? = 3600) async -> SIPMessage {
        let challenge = await s.server.handleSubscribe(phone.request(expires: expires)).response
        guard challenge.statusCode == 401, let credentials = phone.answer(challenge) else { return challenge }
        let reply = await s.server.handleSubscribe(phone.request(expires: expires, authorization: credentials))
        if reply.response.statusCode == 200, phone.toTag == nil { phone.toTag = try? reply.response.to()?.tag }
        reply.afterSending?()
        return reply.response
    }

    func deposit(_ storage: SQLiteStorage, urgent: Bool = false) async throws {
        _ = try await storage.deposit(VoiceMessageDeposit(from: "+33142685300", durationSeconds: 5, urgent: urgent),
                                      mailbox: "alice@example.com", id: UUID().uuidString, at: Date())
    }

    @Test(arguments: [DigestAlgorithm.md5, .sha256])
    func aPhoneWithItsPasswordGets200AndAnActiveNotifyOfTheCounts(algorithm: DigestAlgorithm) async throws {
        let s = try await setup(settings: SubscriptionSettings(digestAlgorithms: [.md5, .sha256]))
        try await deposit(s.storage, urgent: true)
        var phone = Phone(algorithm: algorithm)
        let first = await s.server.handleSubscribe(phone.request(expires: 3600)).response
        #expect(first.statusCode == 401)
        #expect(try first.wwwAuthenticate().compactMap { try? DigestChallenge($0) }.map(\.algorithm) == [.md5, .sha256])
        let ok = await subscribe(s, &phone, expires: 7200)
        #expect(ok.statusCode == 200, "never 202")
        let plain = try await setup()
        var old = Phone()
        let md5Only = await plain.server.handleSubscribe(old.request(expires: 3600)).response
        #expect(try md5Only.wwwAuthenticate().compactMap { try? DigestChallenge($0) }.map(\.algorithm) == [.md5], "the default")
        #expect(ok.headers.first(.expires) == "7200")
        let tag = try #require(try ok.to()?.tag)
        #expect(try ok.contacts().first?.uri.user == "mwid")
        try await eventually { await s.phones.received.count == 1 }
        let notify = try #require(await s.phones.received.first)
        #expect(notify.requestURI?.description == "sip:phone@192.0.2.50:5062")
        #expect(try notify.from()?.tag == tag && notify.to()?.tag == phone.fromTag && notify.callID == phone.callID)
        let state = try #require(notify.headers.first(.subscriptionState))
        #expect(state.hasPrefix("active;expires=") && (Int(state.dropFirst("active;expires=".count)) ?? 0) > 7190, "\(state)")
        #expect(notify.bodyText.contains("Messages-Waiting: yes") && notify.bodyText.contains("Voice-Message: 1/0 (1/0)"))
        #expect(await s.server.count(mailbox: "alice@example.com") == 1)
        let stored = try await s.storage.subscriptions()
        #expect(stored.map(\.id) == [tag] && stored.first?.subscriber == "digest 1234")
    }

    @Test func theIdentityIsAUsernameToo() async throws {
        let s = try await setup()
        var phone = Phone(username: "alice@example.com")
        #expect(await subscribe(s, &phone).statusCode == 200)
    }

    @Test func aSipNameMailboxIsSubscribedToByItsSIPURI() async throws {
        let s = try await setup()
        _ = try await s.storage.create(DialPlan(name: "Corp", numberOfDigitsInExtension: 4, uriType: .sipName))
        _ = try await s.storage.create(MailboxPolicy(name: "CorpDefault", dialPlan: "Corp"))
        _ = try await s.storage.create(UMMailbox(identity: "carol@example.com", extension: "1234", dialPlan: "Corp", policy: "CorpDefault",
                                                 sipResourceIdentifier: "sip:carol@example.com", sipPassword: "carols"))
        var phone = Phone(target: SIPURI(user: "carol", host: "Example.COM"), username: "carol@example.com", password: "carols")
        #expect(await subscribe(s, &phone).statusCode == 200)
        #expect(await s.server.count(mailbox: "carol@example.com") == 1)
        // 1234 is Alice's in Paris and Carol's in Corp: the credentials say whose.
        var alice = Phone()
        #expect(await subscribe(s, &alice).statusCode == 200)
        #expect(await s.server.count(mailbox: "alice@example.com") == 1)
        var anonymous = Phone()
        #expect(await s.server.handleSubscribe(anonymous.request(expires: 3600)).response.statusCode == 401, "challenged to say who")
        var nobody = Phone(password: "neither")
        let ambiguous = await subscribe(s, &nobody)
        #expect(ambiguous.statusCode == 485, "\(ambiguous.reasonPhrase ?? "")")
    }

    @Test func anOldCSeqInTheDialogIsRefusedAndOnlyTheMailboxsOwnCredentialsRefresh() async throws {
        let s = try await setup()
        var phone = Phone()
        await subscribe(s, &phone)
        var stale = phone
        stale.cseq = 0
        #expect(await s.server.handleSubscribe(stale.request(expires: 3600)).response.statusCode == 500)
        var bob = phone
        bob.username = "1235"
        bob.password = "bobs"
        #expect(await subscribe(s, &bob, expires: 3600).statusCode == 403, "Bob cannot take over Alice's subscription")
    }

    @Test func wrongCredentialsAnotherMailboxsCredentialsAndNoPasswordAreRefused() async throws {
        let s = try await setup()
        var wrong = Phone(password: "guess")
        let refused = await subscribe(s, &wrong)
        #expect(refused.statusCode == 403 && refused.reasonPhrase?.contains("wrong credentials") == true)
        var bob = Phone(username: "1235", password: "bobs")  // Bob's own, valid, credentials for Alice's mailbox
        let other = await subscribe(s, &bob)
        #expect(other.statusCode == 403 && other.reasonPhrase?.contains("another mailbox") == true, "\(other.reasonPhrase ?? "")")
        _ = try await s.storage.updateMailbox(identity: "alice@example.com") { $0.sipPassword = nil }
        var nopassword = Phone()
        #expect(await subscribe(s, &nopassword).statusCode == 403)
        #expect(await s.phones.received.isEmpty, "a refused subscriber learns nothing")
        #expect(await s.server.total == 0)
    }

    @Test func aReplayedNonceIsChallengedAgainAndAnExpiredOneIsStale() async throws {
        let clock = ShiftedClock()
        let s = try await setup(settings: SubscriptionSettings(nonceLifetime: 60), clock: clock)
        var phone = Phone()
        let challenge = await s.server.handleSubscribe(phone.request(expires: 3600)).response
        let credentials = try #require(phone.answer(challenge))
        #expect(await s.server.handleSubscribe(phone.request(expires: 3600, authorization: credentials)).response.statusCode == 200)
        // The same credentials again, as an eavesdropper would send them, for a new dialog.
        var thief = Phone()
        let replay = await s.server.handleSubscribe(thief.request(expires: 3600, authorization: credentials)).response
        #expect(replay.statusCode == 401)
        // A nonce past its lifetime: a new challenge marked stale, so the phone retries by itself.
        var late = Phone()
        let old = await s.server.handleSubscribe(late.request(expires: 3600)).response
        clock.advance(61)
        let answer = try #require(late.answer(old))
        let stale = await s.server.handleSubscribe(late.request(expires: 3600, authorization: answer)).response
        #expect(stale.statusCode == 401)
        #expect(try stale.wwwAuthenticate().compactMap { try? DigestChallenge($0) }.allSatisfy(\.stale))
    }

    @Test func refusalsNameWhatIsWrong() async throws {
        let s = try await setup()
        var unknown = Phone(target: SIPURI(user: "9999", host: "mwid.example.com"), username: "9999")
        let first = await s.server.handleSubscribe(unknown.request(expires: 3600)).response
        #expect(first.statusCode == 401, "challenged first: an unauthenticated peer cannot tell which mailboxes exist")
        let notFound = await subscribe(s, &unknown)
        #expect(notFound.statusCode == 404)
        var presence = Phone()
        let badEvent = await s.server.handleSubscribe(presence.request(expires: 3600, event: "presence")).response
        #expect(badEvent.statusCode == 489 && badEvent.headers.first(.allowEvents) == "message-summary")
        var brief = Phone()
        let tooBrief = await s.server.handleSubscribe(brief.request(expires: 30)).response
        #expect(tooBrief.statusCode == 423 && tooBrief.headers.first(.minExpires) == "60")
        var long = Phone()
        #expect(await subscribe(s, &long, expires: 10_000_000).headers.first(.expires) == "86400")
        var stranger = Phone()
        stranger.toTag = "0123456789abcdef"
        let noDialog = await s.server.handleSubscribe(stranger.request(expires: 3600)).response
        #expect(noDialog.statusCode == 481)
    }

    @Test func aRefreshExtendsAndNotifiesAndExpiresZeroEndsWithAFinalNotify() async throws {
        let s = try await setup()
        var phone = Phone()
        await subscribe(s, &phone, expires: 600)
        try await eventually { await s.phones.received.count == 1 }
        let before = try #require(try await s.storage.subscriptions().first?.expiresAt)
        #expect(await subscribe(s, &phone, expires: 3600).statusCode == 200)
        try await eventually { await s.phones.received.count == 2 }
        let after = try #require(try await s.storage.subscriptions().first?.expiresAt)
        #expect(after.timeIntervalSince(before) > 2900)
        let ended = await subscribe(s, &phone, expires: 0)
        #expect(ended.statusCode == 200 && ended.headers.first(.expires) == "0")
        try await eventually { await s.phones.received.count == 3 }
        let final = try #require(await s.phones.received.last)
        #expect(final.headers.first(.subscriptionState) == "terminated;reason=timeout")
        let cseqs = await s.phones.received.compactMap { try? $0.cseq()?.sequence }
        #expect(cseqs == [1, 2, 3], "one CSeq space per direction, growing")
        #expect(await s.server.total == 0)
        #expect(try await s.storage.subscriptions().isEmpty)
    }

    @Test func aSubscriptionNotRefreshedEndsWithTerminatedTimeout() async throws {
        let s = try await setup(settings: SubscriptionSettings(minimumExpires: 1))
        var phone = Phone()
        await subscribe(s, &phone, expires: 1)
        try await eventually { await s.phones.received.count == 2 }
        #expect(await s.phones.received.last?.headers.first(.subscriptionState) == "terminated;reason=timeout")
        #expect(await s.server.total == 0)
        try await eventually { try await s.storage.subscriptions().isEmpty }
    }

    @Test func a481OrATimeoutEndsTheSubscriptionOtherFailuresAreRetried() async throws {
        // Answers, in order: 481 for the first phone; timeout for the second; 500 then 200 for the third.
        let s = try await setup(settings: SubscriptionSettings(retryBackoff: .milliseconds(50))) { request, index in
            switch index {
            case 0: .success(request.makeResponse(statusCode: 481))
            case 1: .failure(.timeout)
            case 2: .success(request.makeResponse(statusCode: 500))
            default: .success(request.makeResponse(statusCode: 200))
            }
        }
        var gone = Phone()
        await subscribe(s, &gone)
        try await eventually { await s.server.total == 0 }
        var silent = Phone()
        await subscribe(s, &silent)
        try await eventually { await s.phones.received.count == 2 }
        try await eventually { await s.server.total == 0 }
        var flaky = Phone()
        await subscribe(s, &flaky)
        try await eventually { await s.phones.received.count == 4 }
        #expect(await s.server.total == 1, "a 500 is retried, the subscription stays")
        let status = await s.server.subscriptions(mailbox: "alice@example.com")
        try await eventually { await s.server.subscriptions(mailbox: "alice@example.com").first?.lastResponse?.hasPrefix("200") == true }
        #expect(status.count == 1)
        let events = try await s.storage.events(EventQuery(subject: "alice@example.com"))
        #expect(events.filter { $0.kind == "subscription.ended" }.count == 2, "\(events.map(\.message))")
    }

    @Test func limitsPerMailboxInAllAndPerAddress() async throws {
        let s = try await setup(settings: SubscriptionSettings(maximumPerMailbox: 2, maximumTotal: 3, requestRate: 1000, requestBurst: 1000))
        for _ in 0..<2 {
            var phone = Phone()
            #expect(await subscribe(s, &phone).statusCode == 200)
        }
        var third = Phone()
        let full = await subscribe(s, &third)
        #expect(full.statusCode == 503 && full.headers.first(.retryAfter) != nil, "\(full.reasonPhrase ?? "")")
        var bob = Phone(target: SIPURI(user: "1235", host: "mwid"), username: "1235", password: "bobs")
        #expect(await subscribe(s, &bob).statusCode == 200)
        var bob2 = Phone(target: SIPURI(user: "1235", host: "mwid"), username: "1235", password: "bobs")
        #expect(await subscribe(s, &bob2).statusCode == 503, "the total is reached")

        let limited = try await setup(settings: SubscriptionSettings(requestRate: 1, requestBurst: 3))
        var flood = Phone()
        let answers = await (0..<5).asyncMap { _ in await limited.server.handleSubscribe(flood.request(expires: 3600)).response }
        #expect(answers.map(\.statusCode) == [401, 401, 401, 503, 503])
        #expect(answers.last?.headers.first(.retryAfter) == "1")
    }

    @Test func threePhonesOfOneMailboxAreEachToldAndOneLeavingLeavesTheOthers() async throws {
        let s = try await setup()
        var phones = [Phone(), Phone(), Phone()]
        for index in phones.indices { #expect(await subscribe(s, &phones[index]).statusCode == 200) }
        try await eventually { await s.phones.received.count == 3 }
        #expect(await s.server.count(mailbox: "alice@example.com") == 3)
        #expect(await s.server.subscriptions(mailbox: "alice@example.com").map(\.id) == phones.map(\.toTag), "oldest first")

        // The one in the middle unsubscribes: it gets its final NOTIFY, the others stay.
        #expect(await subscribe(s, &phones[1], expires: 0).statusCode == 200)
        try await eventually { await s.phones.received.count == 4 }
        #expect(await s.server.subscriptions(mailbox: "alice@example.com").map(\.id) == [phones[0].toTag, phones[2].toTag])

        try await deposit(s.storage)
        let told = await s.server.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com"))
        #expect(told.live == 2 && told.started == 2)
        try await eventually { await s.phones.received.count == 6 }
        let last = await s.phones.received.suffix(2)
        #expect(Set(last.compactMap { try? $0.from()?.tag }) == Set([phones[0].toTag, phones[2].toTag].compactMap { $0 }))
        #expect(last.allSatisfy { String(decoding: $0.body, as: UTF8.self).contains("Voice-Message: 1/0") })

        // The first leaves too, then the last: the mailbox has none.
        for index in [0, 2] { #expect(await subscribe(s, &phones[index], expires: 0).statusCode == 200) }
        #expect(await s.server.count(mailbox: "alice@example.com") == 0)
        #expect(await s.server.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com")).live == 0)
    }

    @Test func noMoreNotifiesAreUnansweredThanTheWindowAndTheWaitingGetTheNewestState() async throws {
        let s = try await setup(settings: SubscriptionSettings(notifyWindow: 2))
        await s.phones.hold()
        var phones = [Phone(), Phone(), Phone(), Phone(), Phone()]
        for index in phones.indices { #expect(await subscribe(s, &phones[index]).statusCode == 200) }
        // Five first NOTIFYs to send, two places: three wait, unsent.
        try await eventually { await s.server.notifyBacklog() == (2, 3) }
        #expect(await s.phones.received.count == 2)

        // A change meanwhile: the two answered later get it after; the three waiting get it
        // instead of the counts they were waiting with.
        try await deposit(s.storage)
        let told = await s.server.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com"))
        #expect(told.live == 5 && told.started == 3, "\(told)")
        #expect(await s.server.notifyBacklog() == (2, 3))

        await s.phones.release()
        try await eventually { await s.phones.received.count == 7 }
        try await eventually { await s.server.notifyBacklog() == (0, 0) }
        #expect(await s.phones.summaries() == ["0/0", "0/0", "1/0", "1/0", "1/0", "1/0", "1/0"])
        #expect(await s.phones.mostUnanswered == 2)
        // Every phone was told the deposit once, the three that waited first: the first two
        // had their second NOTIFY wait behind them.
        let toTags = await s.phones.received.suffix(5).compactMap { try? $0.to()?.tag }
        #expect(Set(toTags) == Set(phones.map(\.fromTag)) && toTags.count == 5)
        #expect(Set(toTags.prefix(2)) == Set([phones[2].fromTag, phones[3].fromTag]))
        #expect(await s.phones.received.count == 7, "nothing more")
    }

    @Test func aTrustedPeerSubscribesWithoutDigest() async throws {
        let s = try await setup(settings: SubscriptionSettings(trustedPeers: [AddressRange("192.0.2.0/24")!]))
        var pbx = Phone(target: SIPURI(user: "1235", host: "mwid"))
        let ok = await s.server.handleSubscribe(pbx.request(expires: 3600))
        #expect(ok.response.statusCode == 200)
        var outsider = Phone(source: try SocketAddress(ipAddress: "198.51.100.7", port: 5062))
        #expect(await s.server.handleSubscribe(outsider.request(expires: 3600)).response.statusCode == 401)
        #expect(try await s.storage.subscriptions().first?.subscriber == "trusted 192.0.2.50")
    }

    @Test func aRestartReArmsEverySubscriptionAndNotifiesAboveTheCSeqsUsed() async throws {
        let s = try await setup(settings: SubscriptionSettings(cseqBlock: 3))
        var phone = Phone()
        await subscribe(s, &phone)
        try await eventually { await s.phones.received.count == 1 }
        for i in 1...3 {
            try await deposit(s.storage)
            await s.server.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com"))
            try await eventually { await s.phones.received.count == 1 + i }
        }
        let used = await s.phones.received.compactMap { try? $0.cseq()?.sequence }.max() ?? 0
        await s.server.stop()
        // A new process on the same storage.
        let phones = FakeGateway()
        let again = SubscriptionServer(storage: s.storage, transport: phones)
        let woken = Mutex<[String]>([])
        await again.onChange { mailbox in woken.withLock { $0.append(mailbox) } }
        await again.restore()
        #expect(await again.count(mailbox: "alice@example.com") == 1)
        #expect(woken.withLock { $0 } == ["alice@example.com"], "the dispatcher is asked to catch the phone up")
        await again.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com"))
        try await eventually { await phones.received.count == 1 }
        let next = try #require(try await phones.received.first?.cseq()?.sequence)
        #expect(next > used, "CSeq \(next) after \(used): never reused after a restart")
        #expect(await phones.received.first?.bodyText.contains("Voice-Message: 3/0") == true)
    }

    @Test func withMWIOffSubscribersAreToldNoOnceThenNothingUntilItIsOn() async throws {
        let s = try await setup()
        try await deposit(s.storage)
        var phone = Phone()
        await subscribe(s, &phone)
        try await eventually { await s.phones.received.count == 1 }
        _ = try await s.storage.updatePolicy(named: "Default") { $0.allowMessageWaitingIndicator = false }
        _ = try await s.storage.markForRefresh(.policy("Default"))
        await s.server.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com"))
        try await eventually { await s.phones.received.count == 2 }
        #expect(await s.phones.received.last?.bodyText.contains("Messages-Waiting: no") == true)
        try await eventually { await s.server.subscriptions(mailbox: "alice@example.com").first?.notifiedState?.hasPrefix("no") == true }
        try await deposit(s.storage)
        let silent = await s.server.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com"))
        #expect(silent.started == 0)
        _ = try await s.storage.updatePolicy(named: "Default") { $0.allowMessageWaitingIndicator = true }
        _ = try await s.storage.markForRefresh(.policy("Default"))
        await s.server.deliver(try await s.storage.deliveryContext(mailbox: "alice@example.com"))
        try await eventually { await s.phones.received.count == 3 }
        #expect(await s.phones.received.last?.bodyText.contains("Voice-Message: 2/0") == true)
    }

    @Test func aRemovedMailboxsSubscribersAreToldItIsGone() async throws {
        let s = try await setup()
        let dispatcher = MWIDispatcher(storage: s.storage, transport: s.phones, settings: MWISettings(notifyInterval: .zero))
        await dispatcher.use(s.server)
        var phone = Phone()
        await subscribe(s, &phone)
        try await eventually { await s.phones.received.count == 1 }
        try await s.storage.removeMailbox(identity: "alice@example.com")
        dispatcher.stateChanged(mailbox: "alice@example.com")
        try await eventually { await s.phones.received.count == 2 }
        #expect(await s.phones.received.last?.headers.first(.subscriptionState) == "terminated;reason=noresource")
        #expect(await s.server.total == 0)
    }

    @Test func theDispatcherFeedsSubscribersWithTheSameCoalescingAndADialPlanMayStopUnsolicitedNotifies() async throws {
        let s = try await setup()
        _ = try await s.storage.create(IPGateway(name: "pbx1", address: "192.0.2.10", transport: .udp, dialPlans: ["Paris"]))
        _ = try await s.storage.updateDialPlan(named: "Paris") { $0.unsolicitedNotifyWhenSubscribed = false }
        let dispatcher = MWIDispatcher(storage: s.storage, transport: s.phones, settings: MWISettings(notifyInterval: .seconds(1)))
        await dispatcher.use(s.server)
        await s.server.onChange { dispatcher.stateChanged(mailbox: $0) }
        var phone = Phone()
        await subscribe(s, &phone)
        try await eventually { await s.phones.received.count == 1 }
        // The first change at once, the next two coalesced into one NOTIFY a second later.
        try await deposit(s.storage)
        dispatcher.stateChanged(mailbox: "alice@example.com")
        try await eventually { await s.phones.received.count == 2 }
        let first = ContinuousClock.now
        for _ in 0..<2 {
            try await deposit(s.storage)
            dispatcher.stateChanged(mailbox: "alice@example.com")
        }
        try await eventually { await s.phones.received.count == 3 }
        #expect(ContinuousClock.now - first > .milliseconds(500), "held for the notify interval")
        let bodies = await s.phones.received.map(\.bodyText)
        #expect(bodies[1].contains("1/0") && bodies[2].contains("3/0"), "\(bodies)")
        #expect(await s.phones.received.allSatisfy { $0.requestURI?.host != "192.0.2.10" }, "no unsolicited NOTIFY while subscribed")
        // The subscription ends: the gateway gets the lamp again.
        await subscribe(s, &phone, expires: 0)
        try await eventually { await s.phones.received.contains { $0.requestURI?.host == "192.0.2.10" } }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var out: [T] = []
        for element in self { out.append(await transform(element)) }
        return out
    }
}
