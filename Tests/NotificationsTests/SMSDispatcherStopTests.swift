import Foundation
@testable import Notifications
import Storage
import Testing
import UnifiedMessaging

/// Stopping the outbox: it waits for the text being handed over, and no longer than its
/// grace (a real SQLite outbox; the fake SMSC holds the submit's answer).
@Suite struct SMSDispatcherStopTests {
    /// An outbox with one text queued (a deposit for a mailbox with a verified number),
    /// routed to the SMSC on `port`; its id.
    func outbox(_ port: Int) async throws -> (SQLiteStorage, String, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-sms-stop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4, countryOrRegionCode: "33"))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        let route = SMSRoute(name: "fake", kind: .smpp, host: "127.0.0.1", port: port, systemId: "mwid", password: "pw",
                             sourceAddress: "Voicemail")
        try await storage.applySMSCatalog(routes: [route], carriers: [SMSCarrier(locale: "fr-FR", name: "Orange", route: "fake")])
        _ = try await storage.create(UMMailbox(identity: "alice@example.com", extension: "1234", dialPlan: "Paris", policy: "Default",
                                               umSMSNotificationOption: .voiceMail))
        _ = try await storage.updateSMSSettings(mailbox: "alice@example.com") { settings in
            settings = SMSSettings(number: "+33612345678", locale: "fr-FR", carrier: "Orange", verifiedAt: Date())
        }
        let change = try await storage.deposit(VoiceMessageDeposit(from: "+33142685300", durationSeconds: 12),
                                               mailbox: "alice@example.com", id: "m1", at: Date())
        let id = try #require(change.sms?.id)
        return (storage, id, folder)
    }

    func eventually(_ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return try await condition()
    }

    @Test func stopWaitsForTheTextBeingHandedOverAndNoLonger() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        let held = Locked<[SMPPPDU]>([])
        smsc.setAnswer { pdu in
            guard pdu.command == SMPPCommand.submitSM else { return FakeSMSC.standard(pdu) }
            held.withLock { $0.append(pdu) }
            return []
        }
        let (storage, id, folder) = try await outbox(smsc.port)
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = SMSDispatchSettings()
        settings.stopGrace = .seconds(60)
        let dispatcher = SMSDispatcher(storage: storage, settings: settings)
        let running = Task { await dispatcher.run() }
        defer { running.cancel() }
        try #require(await eventually { held.withLock { $0.count } == 1 })
        #expect(try await storage.sms(id: id).status == .sending)

        // Stopping waits while the SMSC holds its answer…
        let stopped = Locked(false)
        let stopping = Task {
            await dispatcher.stop()
            stopped.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(!stopped.withLock { $0 })
        // …and returns once it comes (not after the 60 s grace), the text recorded sent.
        let released = ContinuousClock.now
        for pdu in held.withLock({ $0 }) { smsc.send(FakeSMSC.okResponse(pdu, id: "s1")) }
        _ = await stopping.value
        #expect(ContinuousClock.now - released < .seconds(30))
        #expect(try await eventually { try await storage.sms(id: id).status == .sent })
    }

    @Test func stopGivesUpOnAnUnansweredTextAfterItsGrace() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        let submits = Locked(0)
        smsc.setAnswer { pdu in
            guard pdu.command == SMPPCommand.submitSM else { return FakeSMSC.standard(pdu) }
            submits.withLock { $0 += 1 }
            return []
        }
        let (storage, id, folder) = try await outbox(smsc.port)
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = SMSDispatchSettings()
        settings.stopGrace = .milliseconds(300)
        settings.smpp.responseTimeout = .seconds(60)
        let dispatcher = SMSDispatcher(storage: storage, settings: settings)
        let running = Task { await dispatcher.run() }
        defer { running.cancel() }
        try #require(await eventually { submits.withLock { $0 } == 1 })
        let stopping = ContinuousClock.now
        await dispatcher.stop()
        #expect(ContinuousClock.now - stopping < .seconds(30))
        // Still being handed over when mwid stopped: left "sending" (a restart makes it
        // unconfirmed, never sent twice).
        #expect(try await storage.sms(id: id).status == .sending)
    }
}
