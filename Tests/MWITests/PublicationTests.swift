import Foundation
import MWI
import NIOCore
import SIP
import SIPTransport
import Storage
import Synchronization
import Testing
import UnifiedMessaging

/// A voicemail system publishing a mailbox's counts (RFC 3903), as the notifier sees it.
struct Publisher {
    var target = SIPURI(user: "1236", host: "mwid.example.com")
    var source = try! SocketAddress(ipAddress: "192.0.2.80", port: 5060)
    let callID = UUID().uuidString
    var cseq: UInt32 = 0

    static func body(_ counts: String, waiting: Bool = true) -> String {
        "Messages-Waiting: \(waiting ? "yes" : "no")\r\nVoice-Message: \(counts)\r\n"
    }

    mutating func request(expires: Int? = 3600, etag: String? = nil, body: String? = nil, event: String = "message-summary",
                          contentType: String = "application/simple-message-summary",
                          authorization: String? = nil) -> SIPIncomingRequest {
        cseq += 1
        var headers: [(SIPHeaderName, String)] = [(.event, event)]
        if let expires { headers.append((.expires, "\(expires)")) }
        if let etag { headers.append((.sipIfMatch, etag)) }
        if body != nil { headers.append((.contentType, contentType)) }
        if let authorization { headers.append((.authorization, authorization)) }
        let message = SIPMessage.request(
            method: .publish, uri: target,
            via: SIPVia(transport: "UDP", host: "192.0.2.80", port: 5060, branch: SIPIdentifiers.branch()),
            from: SIPNameAddress(uri: SIPURI(user: "vm", host: "voicemail.example.com"), parameters: [("tag", SIPIdentifiers.tag())]),
            to: SIPNameAddress(uri: target), callID: callID, cseq: cseq, contact: nil, headers: headers, body: Array((body ?? "").utf8))
        return SIPIncomingRequest(message: message, transport: .udp, source: source)
    }
}

@Suite struct PublicationRulesTests {
    let settings = SubscriptionSettings(minimumExpires: 60, maximumExpires: 7200)

    func check(_ incoming: SIPIncomingRequest) -> Result<PublishIntent, SIPRefusal> {
        PublicationRules.check(incoming.message, settings: settings)
    }

    @Test func theFourOperations() throws {
        var p = Publisher()
        let state = MessageWaitingState(new: 2, old: 8, urgentNew: 1, urgentOld: 0)
        #expect(try check(p.request(body: Publisher.body("2/8 (1/0)"))).get().publication == .initial(state, lifetime: 3600))
        #expect(try check(p.request(expires: 600, etag: "abc")).get().publication == .refresh(etag: "abc", lifetime: 600))
        #expect(try check(p.request(etag: "abc", body: Publisher.body("0/10"))).get().publication
            == .modify(etag: "abc", MessageWaitingState(new: 0, old: 10), lifetime: 3600))
        let removal = try check(p.request(expires: 0, etag: "abc")).get()
        #expect(removal.publication == .remove(etag: "abc") && removal.expires == 0)
        // Expires absent: one hour; above the maximum: the maximum.
        #expect(try check(p.request(expires: nil, body: Publisher.body("1/0"))).get().expires == 3600)
        #expect(try check(p.request(expires: 100_000, body: Publisher.body("1/0"))).get().expires == 7200)
        // A summary without a voice line: a lamp that is on counts one.
        #expect(try check(p.request(body: "Messages-Waiting: yes\r\n")).get().publication == .initial(MessageWaitingState(new: 1), lifetime: 3600))
    }

    @Test(arguments: [
        (Publisher().requestWith(event: "presence"), 489, "Bad Event (event package presence is not served)"),
        (Publisher().requestWith(expires: 10), 423, "Interval Too Brief"),
        (Publisher().requestWith(contentType: "application/pidf+xml"), 415, "Unsupported Media Type (only application/simple-message-summary)"),
        (Publisher().requestWith(body: "Voice-Message: 1/0\r\n"), 400, "Bad message-summary body"),
        (Publisher().requestWith(body: Publisher.body("1/0 (2/0)")), 400, "Bad Voice-Message counts (urgentNew: counts urgent messages"),
        (Publisher().requestWith(body: nil), 400, "PUBLISH without SIP-If-Match needs a message-summary body"),
        (Publisher().requestWith(expires: 0, body: nil), 400, "Expires 0 without SIP-If-Match (no publication to remove)"),
    ])
    func refusals(_ incoming: SIPIncomingRequest, _ status: Int, _ reason: String) {
        guard case .failure(let refusal) = check(incoming) else {
            Issue.record("accepted: \(incoming.message.headers)")
            return
        }
        #expect(refusal.statusCode == status && refusal.reason.hasPrefix(reason), "\(refusal)")
        if status == 489 { #expect(refusal.headers.contains { $0.name == .allowEvents && $0.value == "message-summary" }) }
        if status == 423 { #expect(refusal.headers.contains { $0.name == .minExpires && $0.value == "60" }) }
        if status == 415 { #expect(refusal.headers.contains { $0.name == .accept }) }
    }
}

extension Publisher {
    /// One request of a fresh publisher, for test arguments.
    func requestWith(expires: Int? = 3600, body: String? = Publisher.body("1/0"), event: String = "message-summary",
                     contentType: String = "application/simple-message-summary") -> SIPIncomingRequest {
        var copy = self
        return copy.request(expires: expires, body: body, event: event, contentType: contentType)
    }
}

/// PUBLISH through the notifier over real SQLite: trusted and digest publishers, entity
/// tags, the mailbox's source, and the change handed to the pipeline.
@Suite(.serialized) struct PublicationServerTests {
    struct Setup {
        let storage: SQLiteStorage
        let server: SubscriptionServer
        let changes: Changes
    }

    final class Changes: Sendable {
        private let box = Mutex<[MWIStateChange]>([])
        func append(_ change: MWIStateChange) { box.withLock { $0.append(change) } }
        func withLock<T: Sendable>(_ body: ([MWIStateChange]) -> T) -> T { box.withLock { body($0) } }
    }

    func setup(trusted: Bool = true) async throws -> Setup {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-pub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        _ = try await storage.create(UMMailbox(identity: "alice@example.com", extension: "1234", dialPlan: "Paris", policy: "Default"))
        _ = try await storage.create(UMMailbox(identity: "carol@example.com", extension: "1236", dialPlan: "Paris", policy: "Default",
                                               sipPassword: "carols", mwiSource: .external))
        var settings = SubscriptionSettings()
        if trusted { settings.trustedPeers = [try #require(AddressRange("192.0.2.80"))] }
        let server = SubscriptionServer(storage: storage, transport: FakeGateway(), settings: settings)
        let setup = Setup(storage: storage, server: server, changes: Changes())
        await server.onPublished { change in setup.changes.append(change) }
        return setup
    }

    @Test func aTrustedVoicemailSystemPublishesRefreshesModifiesAndRemoves() async throws {
        let s = try await setup()
        var vm = Publisher()
        let first = await s.server.handlePublish(vm.request(body: Publisher.body("2/1 (1/0)")))
        #expect(first.statusCode == 200 && first.headers.first(.expires) == "3600")
        let etag = try #require(first.headers.first(.sipETag))
        #expect(try await s.storage.messageWaitingState(mailbox: "carol@example.com") == MessageWaitingState(new: 2, old: 1, urgentNew: 1))
        #expect(s.changes.withLock { $0.map(\.state) } == [MessageWaitingState(new: 2, old: 1, urgentNew: 1)])
        #expect(try await s.storage.publications(mailbox: "carol@example.com", at: Date()).first?.publisher == "trusted 192.0.2.80")

        let refreshed = await s.server.handlePublish(vm.request(expires: 120, etag: etag))
        let second = try #require(refreshed.headers.first(.sipETag))
        #expect(refreshed.statusCode == 200 && second != etag && refreshed.headers.first(.expires) == "120")
        #expect(s.changes.withLock { $0.count } == 1, "a refresh changes nothing")
        // The replaced tag is refused (RFC 3903 §6).
        let stale = await s.server.handlePublish(vm.request(etag: etag))
        #expect(stale.statusCode == 412 && stale.reasonPhrase?.hasPrefix("Conditional Request Failed") == true)

        let modified = await s.server.handlePublish(vm.request(etag: second, body: Publisher.body("0/3")))
        #expect(modified.statusCode == 200)
        let third = try #require(modified.headers.first(.sipETag))
        let removed = await s.server.handlePublish(vm.request(expires: 0, etag: third))
        #expect(removed.statusCode == 200 && removed.headers.first(.sipETag) == nil && removed.headers.first(.expires) == "0")
        #expect(s.changes.withLock { $0.map(\.state) }
            == [MessageWaitingState(new: 2, old: 1, urgentNew: 1), MessageWaitingState(old: 3), MessageWaitingState()])
    }

    @Test func refusalsOnTheWireNameTheirCause() async throws {
        let s = try await setup()
        var vm = Publisher()
        vm.target = SIPURI(user: "1234", host: "mwid.example.com")
        let backed = await s.server.handlePublish(vm.request(body: Publisher.body("1/0")))
        #expect(backed.statusCode == 403 && backed.reasonPhrase?.contains("mwiSource Messages") == true, "\(String(describing: backed.reasonPhrase))")
        vm.target = SIPURI(user: "9999", host: "mwid.example.com")
        #expect(await s.server.handlePublish(vm.request(body: Publisher.body("1/0"))).statusCode == 404)
        vm.target = SIPURI(user: "1236", host: "mwid.example.com")
        #expect(await s.server.handlePublish(vm.request(etag: "nosuchtag")).statusCode == 412)
        #expect(await s.server.handlePublish(vm.request(event: "presence")).statusCode == 489)
        #expect(s.changes.withLock { $0.isEmpty })
        #expect(try await s.storage.messageWaitingState(mailbox: "alice@example.com") == MessageWaitingState())
    }

    @Test func anExtensionInTwoDialPlansIsAmbiguousUnlessTheCredentialsSayWhich() async throws {
        let s = try await setup()
        _ = try await s.storage.create(DialPlan(name: "Lyon", numberOfDigitsInExtension: 4))
        _ = try await s.storage.create(MailboxPolicy(name: "LyonDefault", dialPlan: "Lyon"))
        _ = try await s.storage.create(UMMailbox(identity: "dave@example.com", extension: "1236", dialPlan: "Lyon", policy: "LyonDefault",
                                                 mwiSource: .external))
        var vm = Publisher()
        let ambiguous = await s.server.handlePublish(vm.request(body: Publisher.body("3/0")))
        #expect(ambiguous.statusCode == 485 && ambiguous.reasonPhrase?.contains("names several mailboxes") == true,
                "\(String(describing: ambiguous.reasonPhrase))")
        // The trusted peer names the mailbox by the username of its credentials.
        let realm = SubscriptionSettings().realm
        let named = await s.server.handlePublish(vm.request(body: Publisher.body("3/0"), authorization:
            "Digest username=\"dave@example.com\", realm=\"\(realm)\", nonce=\"n\", uri=\"\(vm.target)\", response=\"00\""))
        #expect(named.statusCode == 200, "\(String(describing: named.reasonPhrase))")
        #expect(try await s.storage.messageWaitingState(mailbox: "dave@example.com") == MessageWaitingState(new: 3))
        #expect(try await s.storage.messageWaitingState(mailbox: "carol@example.com") == MessageWaitingState())
        // Its SIP URI names one of them without any credentials.
        _ = try await s.storage.updateMailbox(identity: "carol@example.com") { $0.sipResourceIdentifier = "sip:carol@mwid.example.com" }
        vm.target = SIPURI(user: "carol", host: "mwid.example.com")
        #expect(await s.server.handlePublish(vm.request(body: Publisher.body("1/0"))).statusCode == 200)
        #expect(try await s.storage.messageWaitingState(mailbox: "carol@example.com") == MessageWaitingState(new: 1))
    }

    @Test func anUntrustedPublisherNeedsTheMailboxsDigest() async throws {
        let s = try await setup(trusted: false)
        var vm = Publisher()
        let challenge = await s.server.handlePublish(vm.request(body: Publisher.body("1/0")))
        #expect(challenge.statusCode == 401)
        var phone = Phone()
        phone.target = vm.target
        phone.username = "1236"
        phone.password = "wrong"
        let wrong = await s.server.handlePublish(vm.request(body: Publisher.body("1/0"), authorization: answer(challenge, phone, uri: vm.target)))
        #expect(wrong.statusCode == 403)
        phone.password = "carols"
        let retry = await s.server.handlePublish(vm.request(body: Publisher.body("1/0")))
        let accepted = await s.server.handlePublish(vm.request(body: Publisher.body("1/0"), authorization: answer(retry, phone, uri: vm.target)))
        #expect(accepted.statusCode == 200 && accepted.headers.first(.sipETag) != nil)
        #expect(try await s.storage.publications(mailbox: "carol@example.com", at: Date()).first?.publisher == "digest 1236")
    }

    @Test func anExpiredPublicationPutsTheLampOut() async throws {
        let s = try await setup()
        var vm = Publisher()
        let clockless = await s.server.handlePublish(vm.request(expires: 60, body: Publisher.body("1/0")))
        #expect(clockless.statusCode == 200)
        // Its end, read back, is where the sweeper would wake.
        let next = try #require(await s.server.expirePublications())
        #expect(abs(next.timeIntervalSinceNow - 60) < 5)
        _ = try await s.storage.expirePublications(at: Date().addingTimeInterval(61))
        #expect(try await s.storage.messageWaitingState(mailbox: "carol@example.com") == MessageWaitingState())
    }

    func answer(_ challenge: SIPMessage, _ phone: Phone, uri: SIPURI) -> String? {
        let challenges = ((try? challenge.wwwAuthenticate()) ?? []).compactMap { try? DigestChallenge($0) }
        guard let first = challenges.first else { return nil }
        var rng = SystemRandomNumberGenerator()
        return SIPDigest.answer(first, method: .publish, uri: uri.description, username: phone.username, password: phone.password,
                                cnonce: SIPDigest.makeCNonce(using: &rng), nonceCount: 1).header.description
    }
}
