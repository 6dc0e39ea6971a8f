import Foundation
import Storage
import Testing
import UnifiedMessaging

/// Routes, carriers, text settings, the outbox and missed calls on a real SQLite file.
@Suite struct SMSStorageTests {
    let folder: URL
    let now = Date(timeIntervalSince1970: 1_799_970_000)  // 2027-01-14 23:40 UTC, 00:40 in Paris
    var path: String { folder.appendingPathComponent("mwid.sqlite").path }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-sms-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    static let smsc = SMSRoute(name: "smsc", kind: .smpp, host: "127.0.0.1", systemId: "mwid", password: "secret")

    /// A dial plan (France), a policy, a route, a carrier and mailboxes with each option,
    /// alice with a verified number.
    func seeded(allowSMS: Bool = true) async throws -> SQLiteStorage {
        let storage = try SQLiteStorage(path: path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4, countryOrRegionCode: "33"))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris", allowSMSNotification: allowSMS))
        _ = try await storage.create(Self.smsc)
        _ = try await storage.create(SMSCarrier(locale: "fr_fr", name: "Orange", route: "smsc"))
        for (identity, ext, option) in [("alice@example.com", "1234", SMSNotificationOption.voiceMailAndMissedCalls),
                                        ("bob@example.com", "1235", .voiceMail), ("carol@example.com", "1236", .none)] {
            _ = try await storage.create(UMMailbox(identity: identity, extension: ext, dialPlan: "Paris", policy: "Default",
                                                   umSMSNotificationOption: option))
            _ = try await storage.updateSMSSettings(mailbox: identity) { settings in
                settings = SMSSettings(number: "+33612345678", locale: "fr-FR", carrier: "Orange", verifiedAt: self.now)
            }
        }
        return storage
    }

    func deposit(_ storage: SQLiteStorage, _ mailbox: String, id: String, read: Bool = false) async throws -> MailboxChange {
        try await storage.deposit(VoiceMessageDeposit(from: "+33142685300", durationSeconds: 42, read: read, transcript: "Rappelle-moi"),
                                  mailbox: mailbox, id: id, at: now)
    }

    @Test func aDepositQueuesItsTextInTheSameTransaction() async throws {
        let storage = try await seeded()
        let change = try await deposit(storage, "alice@example.com", id: "m1")
        let text = try #require(change.sms)
        #expect(text.purpose == .voiceMail && text.subject == "m1" && text.number == "+33612345678" && text.status == .queued)
        #expect(text.text == "Message vocal de 01 42 68 53 00 à 23:40 (0:42) : Rappelle-moi")
        #expect(try await storage.smsHistory(mailbox: "alice@example.com", limit: 10).map(\.id) == [text.id])
        // VoiceMail gets it too; None does not; a message deposited already read does not.
        #expect(try await deposit(storage, "bob@example.com", id: "m2").sms != nil)
        #expect(try await deposit(storage, "carol@example.com", id: "m3").sms == nil)
        #expect(try await deposit(storage, "alice@example.com", id: "m4", read: true).sms == nil)
        // A refused deposit queues nothing.
        await #expect(throws: DirectoryError.self) { _ = try await deposit(storage, "nobody@example.com", id: "m5") }
        #expect(try await storage.nextSMSDue() == now)
    }

    @Test func policyWithoutSMSQueuesNothing() async throws {
        let storage = try await seeded(allowSMS: false)
        #expect(try await deposit(storage, "alice@example.com", id: "m1").sms == nil)
        let call = try await storage.recordMissedCall(MissedCallReport(mailbox: "alice@example.com", from: "0612345678"), id: "c1", at: now)
        #expect(call.sms == nil)
        #expect(try await storage.nextSMSDue() == nil)
    }

    @Test func missedCallsByExtensionQueuedOnlyWithMissedCalls() async throws {
        let storage = try await seeded()
        let call = try await storage.recordMissedCall(MissedCallReport(extension: "1234", dialPlan: "Paris", from: "0612345678"), id: "c1", at: now)
        #expect(call.mailbox == "alice@example.com" && call.at == now)
        let text = try await storage.sms(id: try #require(call.sms))
        #expect(text.purpose == .missedCall && text.text == "Appel manqué de 06 12 34 56 78 à 23:40 (pas de message)")
        let bob = try await storage.recordMissedCall(MissedCallReport(mailbox: "bob@example.com", from: "0612345678", at: now - 60), id: "c2", at: now)
        #expect(bob.sms == nil && bob.at == now - 60)
        #expect(try await storage.missedCalls(mailbox: "alice@example.com", limit: 10).map(\.id) == ["c1"])
        let unknown = await #expect(throws: DirectoryError.self) {
            _ = try await storage.recordMissedCall(MissedCallReport(extension: "9999", dialPlan: "Paris", from: "1"), id: "c3", at: now)
        }
        #expect(unknown?.field == "extension")
        let noPlan = await #expect(throws: DirectoryError.self) {
            _ = try await storage.recordMissedCall(MissedCallReport(extension: "1234", from: "1"), id: "c4", at: now)
        }
        #expect(noPlan?.field == "dialPlan")
    }

    @Test func quietHoursHoldTheText() async throws {
        let storage = try await seeded()
        // 00:40 in Paris is inside 22:00–07:00: held until 07:00 (06:00 UTC).
        _ = try await storage.updateSMSSettings(mailbox: "alice@example.com") { settings in
            settings.quietHours = QuietHours(start: "22:00", end: "07:00")
            settings.timeZone = "Europe/Paris"
        }
        let text = try #require(try await deposit(storage, "alice@example.com", id: "m1").sms)
        let release = try Date("2027-01-15T06:00:00Z", strategy: .iso8601)
        #expect(text.notBefore == release)
        #expect(try await storage.claimDueSMS(now: now, limit: 10).isEmpty)
        #expect(try await storage.claimDueSMS(now: release, limit: 10).map(\.id) == [text.id])
    }

    @Test func claimingSendsOnceAndCancelsHeardMessages() async throws {
        let storage = try await seeded()
        let first = try #require(try await deposit(storage, "alice@example.com", id: "m1").sms)
        let second = try #require(try await deposit(storage, "bob@example.com", id: "m2").sms)
        let third = try #require(try await deposit(storage, "alice@example.com", id: "m3").sms)
        _ = try await storage.changeMessage(id: "m2", mailbox: "bob@example.com", VoiceMessageChange(read: true))
        _ = try await storage.removeMessage(id: "m3", mailbox: "alice@example.com")
        let claimed = try await storage.claimDueSMS(now: now, limit: 10)
        #expect(claimed.map(\.id) == [first.id] && claimed[0].status == .sending)
        #expect(try await storage.claimDueSMS(now: now, limit: 10).isEmpty, "a text is taken once")
        #expect(try await storage.sms(id: second.id).status == .cancelled)
        #expect(try await storage.sms(id: third.id).lastError?.contains("deleted") == true)
    }

    @Test func outcomesReceiptsAndRecovery() async throws {
        let storage = try await seeded()
        let first = try #require(try await deposit(storage, "alice@example.com", id: "m1").sms)
        let second = try #require(try await deposit(storage, "bob@example.com", id: "m2").sms)
        var sent = try await storage.claimDueSMS(now: now, limit: 1)[0]
        sent = SMSRetryPolicy().apply(SMSSendOutcome(accepted: 1, messageIDs: ["x1"]), to: sent, route: "smsc", totalParts: 1, now: now)
        try await storage.finishSMS([sent])
        #expect(try await storage.sms(id: first.id).status == .sent)
        #expect(try await storage.recordSMSReceipt(route: "smsc", messageID: "x1", delivered: true, detail: "DELIVRD", at: now))
        #expect(try await storage.sms(id: first.id).status == .delivered)
        #expect(try await !storage.recordSMSReceipt(route: "other", messageID: "x1", delivered: true, detail: "DELIVRD", at: now))
        // Taken, then mwid stops: unconfirmed after the restart, never sent again.
        _ = try await storage.claimDueSMS(now: now, limit: 10)
        let reopened = try SQLiteStorage(path: path)
        #expect(try await reopened.recoverSMS(at: now) == 1)
        let lost = try await reopened.sms(id: second.id)
        #expect(lost.status == .unconfirmed && lost.lastError?.contains("stopped") == true)
        #expect(try await reopened.claimDueSMS(now: now + 3600, limit: 10).isEmpty)
        #expect(try await reopened.events(EventQuery(subject: "bob@example.com")).contains { $0.kind == "sms.unconfirmed" })
    }

    @Test func routesAndCarriersKeepTheirRules() async throws {
        let storage = try await seeded()
        #expect(try await storage.smsCarrier(locale: "FR-fr", name: "Orange").locale == "fr-FR")
        // The password is kept through a change that does not name it.
        let changed = try await storage.updateSMSRoute(named: "smsc") { $0.window = 20 }
        #expect(changed.password == "secret" && changed.window == 20)
        let inUse = await #expect(throws: DirectoryError.self) { try await storage.removeSMSRoute(named: "smsc") }
        #expect(inUse?.code == .inUse)
        let used = await #expect(throws: DirectoryError.self) { try await storage.removeSMSCarrier(locale: "fr-FR", name: "Orange") }
        #expect(used?.code == .inUse && used?.message.contains("alice@example.com") == true)
        let missing = await #expect(throws: DirectoryError.self) {
            _ = try await storage.create(SMSCarrier(locale: "fr-FR", name: "Free", route: "nope"))
        }
        #expect(missing?.field == "route")
        // An smtp route needs its carriers' email domains: turning smsc into one is refused.
        let mail = await #expect(throws: DirectoryError.self) {
            _ = try await storage.updateSMSRoute(named: "smsc") { route in
                route = SMSRoute(name: "smsc", kind: .smtp, host: "mail.example", from: "vm@example.com")
            }
        }
        #expect(mail?.message.contains("carrier Orange") == true)
        // The catalog creates and replaces in one go.
        try await storage.applySMSCatalog(routes: [SMSRoute(name: "mail", kind: .smtp, host: "mail.example", from: "vm@example.com")],
                                          carriers: [SMSCarrier(locale: "fr-FR", name: "Free", route: "mail", emailDomain: "sms.free.example"),
                                                     SMSCarrier(locale: "fr-FR", name: "Orange", route: "mail", emailDomain: "orange.example")])
        #expect(try await storage.smsCarriers(locale: "fr-FR").map(\.route) == ["mail", "mail"])
        await #expect(throws: DirectoryError.self) {
            try await storage.applySMSCatalog(routes: [], carriers: [SMSCarrier(locale: "fr-FR", name: "SFR", route: "nowhere")])
        }
        #expect(try await storage.smsCarriers(locale: nil).count == 2)
    }

    @Test func removingAMailboxRemovesItsTexts() async throws {
        let storage = try await seeded()
        _ = try await deposit(storage, "alice@example.com", id: "m1")
        try await storage.removeMailbox(identity: "alice@example.com")
        #expect(try await storage.claimDueSMS(now: now, limit: 10).isEmpty)
        await #expect(throws: DirectoryError.self) { _ = try await storage.smsSettings(mailbox: "alice@example.com") }
    }
}
