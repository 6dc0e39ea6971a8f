import Foundation
import Storage
import Testing
import UnifiedMessaging

/// Externally-fed mailboxes on a real SQLite file: publications (RFC 3903 semantics),
/// their composition and expiry, `PUT mwi`, and what deposits and texts do with them.
@Suite struct PublicationStorageTests {
    let folder: URL
    let now = Date(timeIntervalSince1970: 1_799_970_000)
    var path: String { folder.appendingPathComponent("mwid.sqlite").path }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-pub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// bob is fed by another voicemail system (with a verified number); alice counts her own messages.
    func seeded() async throws -> SQLiteStorage {
        let storage = try SQLiteStorage(path: path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4, countryOrRegionCode: "33"))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        _ = try await storage.create(SMSRoute(name: "smsc", kind: .smpp, host: "127.0.0.1", systemId: "mwid", password: "secret"))
        _ = try await storage.create(SMSCarrier(locale: "fr_fr", name: "Orange", route: "smsc"))
        _ = try await storage.create(UMMailbox(identity: "alice@example.com", extension: "1234", dialPlan: "Paris", policy: "Default"))
        _ = try await storage.create(UMMailbox(identity: "bob@example.com", extension: "1235", dialPlan: "Paris", policy: "Default",
                                               umSMSNotificationOption: .voiceMail, mwiSource: .external))
        _ = try await storage.updateSMSSettings(mailbox: "bob@example.com") { settings in
            settings = SMSSettings(number: "+33612345678", locale: "fr-FR", carrier: "Orange", verifiedAt: self.now)
        }
        return storage
    }

    static let bob = "bob@example.com"

    @Test func theFourOperationsOfAPublication() async throws {
        let storage = try await seeded()
        let first = try await storage.publish(.initial(MessageWaitingState(new: 2, old: 1, urgentNew: 1), lifetime: 3600), mailbox: Self.bob,
                                              publisher: "trusted 127.0.0.1", at: now)
        let etag = try #require(first.etag)
        #expect(first.expiresAt == now.addingTimeInterval(3600))
        #expect(first.change.previousState == MessageWaitingState() && first.change.state == MessageWaitingState(new: 2, old: 1, urgentNew: 1))
        #expect(try await storage.messageWaitingState(mailbox: Self.bob) == MessageWaitingState(new: 2, old: 1, urgentNew: 1))
        let context = try await storage.deliveryContext(mailbox: Self.bob)
        #expect(context.isPending && context.version == 1 && context.mailbox.mwiSource == .external)

        // A refresh: a new entity tag, the same counts, no new version.
        let refreshed = try await storage.publish(.refresh(etag: etag, lifetime: 600), mailbox: Self.bob, publisher: "trusted 127.0.0.1",
                                                  at: now + 10)
        let second = try #require(refreshed.etag)
        #expect(second != etag && refreshed.change.state == refreshed.change.previousState)
        #expect(try await storage.deliveryContext(mailbox: Self.bob).version == 1)
        // The old tag is gone (RFC 3903: 412).
        let stale = await #expect(throws: DirectoryError.self) {
            _ = try await storage.publish(.refresh(etag: etag, lifetime: 600), mailbox: Self.bob, publisher: "x", at: now + 11)
        }
        #expect(stale?.field == "etag" && stale?.code == .notFound)

        let modified = try await storage.publish(.modify(etag: second, MessageWaitingState(new: 0, old: 3), lifetime: 600), mailbox: Self.bob,
                                                 publisher: "trusted 127.0.0.1", at: now + 20)
        #expect(modified.change.state == MessageWaitingState(new: 0, old: 3) && modified.change.sms == nil)
        #expect(try await storage.deliveryContext(mailbox: Self.bob).version == 2)
        let records = try await storage.publications(mailbox: Self.bob, at: now + 20)
        #expect(records.map(\.etag) == [try #require(modified.etag)] && records.first?.publisher == "trusted 127.0.0.1")

        // Removed: nothing is published, nothing waits.
        let removed = try await storage.publish(.remove(etag: try #require(modified.etag)), mailbox: Self.bob, publisher: "x", at: now + 30)
        #expect(removed.etag == nil && removed.change.state == MessageWaitingState())
        #expect(try await storage.publications(mailbox: Self.bob, at: now + 30).isEmpty)
    }

    @Test func theNewestPublicationSetsTheCountsAndExpiryFallsBack() async throws {
        let storage = try await seeded()
        let a = try await storage.publish(.initial(MessageWaitingState(new: 1), lifetime: 100), mailbox: Self.bob, publisher: "node a", at: now)
        let b = try await storage.publish(.initial(MessageWaitingState(new: 4), lifetime: 50), mailbox: Self.bob, publisher: "node b", at: now + 1)
        #expect(b.change.state == MessageWaitingState(new: 4))
        // A refresh of the older one does not make it the newest.
        _ = try await storage.publish(.refresh(etag: try #require(a.etag), lifetime: 100), mailbox: Self.bob, publisher: "node a", at: now + 2)
        #expect(try await storage.messageWaitingState(mailbox: Self.bob) == MessageWaitingState(new: 4))
        #expect(try await storage.nextPublicationExpiry() == now + 51)

        #expect(try await storage.expirePublications(at: now + 50).isEmpty)
        let expired = try await storage.expirePublications(at: now + 51)
        #expect(expired == [MWIStateChange(mailbox: Self.bob, state: MessageWaitingState(new: 1), previousState: MessageWaitingState(new: 4))])
        let last = try await storage.expirePublications(at: now + 102)
        #expect(last.map(\.state) == [MessageWaitingState()])
        #expect(try await storage.nextPublicationExpiry() == nil)
        let events = try await storage.events(EventQuery(subject: Self.bob))
        #expect(events.contains { $0.kind == "mwi.publication.expired" })
    }

    /// A publication past its expiry but not yet swept away is not live: refreshing,
    /// modifying or removing it is refused (412) and changes nothing.
    @Test func anExpiredPublicationIsNotRefreshedModifiedOrRemoved() async throws {
        let storage = try await seeded()
        let first = try await storage.publish(.initial(MessageWaitingState(new: 2), lifetime: 50), mailbox: Self.bob, publisher: "a", at: now)
        let etag = try #require(first.etag)
        let late = now + 50
        for publication in [MWIPublication.refresh(etag: etag, lifetime: 600), .modify(etag: etag, MessageWaitingState(new: 9), lifetime: 600),
                            .remove(etag: etag)] {
            let refused = await #expect(throws: DirectoryError.self) {
                _ = try await storage.publish(publication, mailbox: Self.bob, publisher: "a", at: late)
            }
            #expect(refused?.code == .notFound && refused?.field == "etag", "\(publication)")
        }
        #expect(try await storage.messageWaitingState(mailbox: Self.bob) == MessageWaitingState(new: 2))
        let kept = try await storage.publications(mailbox: Self.bob, at: now + 49)
        #expect(kept.map(\.etag) == [etag] && kept.first?.state == MessageWaitingState(new: 2) && kept.first?.expiresAt == now + 50)
    }

    @Test func putIsOneLastingPublication() async throws {
        let storage = try await seeded()
        let put = try await storage.publish(.put(MessageWaitingState(new: 3, old: 2)), mailbox: Self.bob, publisher: "api", at: now)
        #expect(put.expiresAt == nil && put.change.state == MessageWaitingState(new: 3, old: 2))
        _ = try await storage.publish(.put(MessageWaitingState(new: 0, old: 5)), mailbox: Self.bob, publisher: "api", at: now + 1)
        #expect(try await storage.publications(mailbox: Self.bob, at: now + 1).count == 1)
        #expect(try await storage.expirePublications(at: now + 1_000_000).isEmpty)
        #expect(try await storage.messageWaitingState(mailbox: Self.bob) == MessageWaitingState(new: 0, old: 5))
    }

    @Test func refusalsChangeNothing() async throws {
        let storage = try await seeded()
        // A message-backed mailbox is not published for.
        let backed = await #expect(throws: DirectoryError.self) {
            _ = try await storage.publish(.put(MessageWaitingState(new: 1)), mailbox: "alice@example.com", publisher: "api", at: now)
        }
        #expect(backed?.code == .conflict && backed?.field == "mwiSource")
        // An externally-fed one takes no deposit, and its counts do not move.
        _ = try await storage.publish(.put(MessageWaitingState(new: 1)), mailbox: Self.bob, publisher: "api", at: now)
        let deposit = await #expect(throws: DirectoryError.self) {
            _ = try await storage.deposit(VoiceMessageDeposit(from: "+33142685300", durationSeconds: 3), mailbox: Self.bob, id: "m1", at: now)
        }
        #expect(deposit?.field == "mwiSource")
        #expect(try await storage.messages(mailbox: Self.bob).isEmpty)
        #expect(try await storage.messageWaitingState(mailbox: Self.bob) == MessageWaitingState(new: 1))
        // Bad counts, an unknown mailbox, another mailbox's tag.
        let bad = await #expect(throws: DirectoryError.self) {
            _ = try await storage.publish(.put(MessageWaitingState(new: 1, urgentNew: 2)), mailbox: Self.bob, publisher: "api", at: now)
        }
        #expect(bad?.field == "urgentNew")
        await #expect(throws: DirectoryError.self) {
            _ = try await storage.publish(.put(MessageWaitingState()), mailbox: "nobody@example.com", publisher: "api", at: now)
        }
        _ = try await storage.updateMailbox(identity: "alice@example.com") { $0.mwiSource = .external }
        let theirs = try await storage.publish(.initial(MessageWaitingState(new: 1), lifetime: 60), mailbox: "alice@example.com",
                                               publisher: "x", at: now)
        await #expect(throws: DirectoryError.self) {
            _ = try await storage.publish(.remove(etag: try #require(theirs.etag)), mailbox: Self.bob, publisher: "x", at: now)
        }
        #expect(try await storage.messageWaitingState(mailbox: "alice@example.com") == MessageWaitingState(new: 1))
    }

    @Test func backToMessagesTheCountsAreTheMessagesAgain() async throws {
        let storage = try await seeded()
        _ = try await storage.deposit(VoiceMessageDeposit(from: "+33142685300", durationSeconds: 3), mailbox: "alice@example.com", id: "m1", at: now)
        _ = try await storage.updateMailbox(identity: "alice@example.com") { $0.mwiSource = .external }
        #expect(try await storage.messageWaitingState(mailbox: "alice@example.com") == MessageWaitingState(new: 1), "kept until published")
        _ = try await storage.publish(.put(MessageWaitingState(new: 7)), mailbox: "alice@example.com", publisher: "api", at: now)
        // A message kept from before does not move published counts.
        let read = try await storage.changeMessage(id: "m1", mailbox: "alice@example.com", VoiceMessageChange(read: true))
        #expect(read.state == MessageWaitingState(new: 7) && read.previousState == read.state)
        let version = try await storage.deliveryContext(mailbox: "alice@example.com").version
        _ = try await storage.updateMailbox(identity: "alice@example.com") { $0.mwiSource = .messages }
        #expect(try await storage.messageWaitingState(mailbox: "alice@example.com") == MessageWaitingState(old: 1))
        #expect(try await storage.deliveryContext(mailbox: "alice@example.com").version == version + 1)
        #expect(try await storage.publications(mailbox: "alice@example.com", at: now).isEmpty)
    }

    @Test func moreNewMessagesTextTheUserUntilHeard() async throws {
        let storage = try await seeded()
        let first = try await storage.publish(.put(MessageWaitingState(new: 2, urgentNew: 1)), mailbox: Self.bob, publisher: "api", at: now)
        let text = try #require(first.change.sms)
        #expect(text.text == "2 nouveaux messages vocaux à 23:40 (1 urgent)" && text.subject.hasPrefix("state:"))
        // Fewer new (one heard) or the same: no text.
        #expect(try await storage.publish(.put(MessageWaitingState(new: 1)), mailbox: Self.bob, publisher: "api", at: now).change.sms == nil)
        #expect(try await storage.publish(.put(MessageWaitingState(new: 1)), mailbox: Self.bob, publisher: "api", at: now).change.sms == nil)
        // Claimed while something new waits: sent.
        #expect(try await storage.claimDueSMS(now: now, limit: 10).map(\.id) == [text.id])
        // A second text, but everything is heard before it goes: cancelled.
        let second = try #require(try await storage.publish(.put(MessageWaitingState(new: 3)), mailbox: Self.bob, publisher: "api", at: now).change.sms)
        _ = try await storage.publish(.put(MessageWaitingState(old: 3)), mailbox: Self.bob, publisher: "api", at: now)
        #expect(try await storage.claimDueSMS(now: now, limit: 10).isEmpty)
        #expect(try await storage.sms(id: second.id).status == .cancelled)
    }
}
