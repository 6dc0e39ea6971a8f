// Text-message throughput over one SMPP bind (issue 7), against a loopback SMSC
// (Tests/Peers/smsc_sim.py --quiet; bench/sms/run starts it).
//
//   SMSBench smpp PORT COUNT [WINDOW] [SENDERS]
//       mwid's SMPP client alone: COUNT one-part texts from SENDERS concurrent senders over
//       one transmitter bind with WINDOW submits outstanding: submit_sm accepted per second.
//   SMSBench outbox PORT COUNT [WINDOW] [MAILBOXES]
//       the whole durable path: COUNT deposits (each queues its text in the deposit's
//       transaction) into a fresh SQLite store, then the outbox dispatcher drains them over
//       one bind: texts sent and recorded per second, from the first claim to the last
//       outcome written.
//   SMSBench smtp PORT COUNT [SENDERS] [IDLE_SECONDS] [CA_FILE]
//       email-to-SMS: COUNT texts from SENDERS concurrent senders (default 4) to the SMTP
//       server on PORT, with connections kept open IDLE_SECONDS for the next text (default
//       30; 0: one connection per text), STARTTLS required when CA_FILE (the server's CA)
//       is given: texts accepted per second.
import Foundation
import Notifications
import Storage
import UnifiedMessaging

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("SMSBench: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 4, let port = Int(arguments[2]), let count = Int(arguments[3]), count > 0 else {
    fail("usage: SMSBench smpp|outbox|smtp PORT COUNT [WINDOW|SENDERS] [SENDERS|MAILBOXES|IDLE_SECONDS] [CA_FILE]")
}
let window = arguments.count > 4 ? Int(arguments[4]) ?? 10 : 10
let fifth = arguments.count > 5 ? Int(arguments[5]) : nil
let route = SMSRoute(name: "bench", kind: .smpp, host: "127.0.0.1", port: port, systemId: "mwid", password: "secret",
                     sourceAddress: "Voicemail", bind: .transmitter, window: window)

func rate(_ n: Int, _ elapsed: Duration) -> String {
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return "\(Int((Double(n) / seconds).rounded()))/s (\(n) in \(String(format: "%.2f", seconds)) s)"
}

let text = SMSText("Message vocal de 01 42 68 53 00 à 11:48 (0:42) : Rappelle-moi au sujet du contrat.")

/// Texts 0 … COUNT-1 (to +336 and the index in 8 digits) from `senders` concurrent senders,
/// each taking every `senders`-th: how many failed (the first failure is printed) and how
/// long it took.
func sendAll(senders: Int, _ send: @escaping @Sendable (_ index: Int, _ number: String) async -> SMSSendOutcome) async
    -> (failures: Int, elapsed: Duration)
{
    let clock = ContinuousClock()
    let start = clock.now
    let failures = await withTaskGroup(of: Int.self) { group in
        for first in 0..<senders {
            group.addTask {
                var failed = 0
                for index in stride(from: first, to: count, by: senders) {
                    guard let failure = await send(index, "+336\(String(format: "%08d", index))").failure else { continue }
                    failed += 1
                    if failed == 1 { FileHandle.standardError.write(Data("SMSBench: \(failure)\n".utf8)) }
                }
                return failed
            }
        }
        return await group.reduce(0, +)
    }
    return (failures, clock.now - start)
}

func smpp(senders: Int) async {
    let client: SMPPClient
    do { client = try SMPPClient(route: route) } catch { fail("\(error)") }
    // Bound before the clock starts.
    guard (await client.submit(text, to: "+33600000000", reference: 0, partsSent: 0)).failure == nil else { fail("the SMSC refused") }
    let (failures, elapsed) = await sendAll(senders: senders) { index, number in
        await client.submit(text, to: number, reference: UInt8(index & 0xFF), partsSent: 0)
    }
    await client.close()
    print("smpp: window \(window), \(senders) senders: \(rate(count, elapsed)) submit_sm accepted, \(failures) failed")
    if failures > 0 { exit(1) }
}

func outbox(mailboxes: Int) async {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-smsbench-\(UUID().uuidString)")
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 5, countryOrRegionCode: "33"))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        try await storage.applySMSCatalog(routes: [route], carriers: [SMSCarrier(locale: "fr-FR", name: "Orange", route: "bench")])
        let now = Date()
        for index in 0..<mailboxes {
            let identity = "user\(index)@example.com"
            _ = try await storage.create(UMMailbox(identity: identity, extension: String(format: "%05d", 10000 + index), dialPlan: "Paris",
                                                   policy: "Default", umSMSNotificationOption: .voiceMail))
            _ = try await storage.updateSMSSettings(mailbox: identity) { settings in
                settings = SMSSettings(number: "+336\(String(format: "%08d", index))", locale: "fr-FR", carrier: "Orange", verifiedAt: now)
            }
        }
        var ids: [String] = []
        ids.reserveCapacity(count)
        let clock = ContinuousClock()
        let depositStart = clock.now
        for index in 0..<count {
            let change = try await storage.deposit(
                VoiceMessageDeposit(from: "+33142685300", durationSeconds: 42, transcript: "Rappelle-moi au sujet du contrat."),
                mailbox: "user\(index % mailboxes)@example.com", id: "m\(index)", at: Date())
            guard let text = change.sms else { fail("deposit \(index) queued no text") }
            ids.append(text.id)
        }
        print("outbox: \(rate(count, clock.now - depositStart)) deposits queued with their text")

        var settings = SMSDispatchSettings()
        settings.pollInterval = .seconds(1)
        let dispatcher = SMSDispatcher(storage: storage, settings: settings)
        let start = clock.now
        let running = Task { await dispatcher.run() }
        // Done when every text reads sent (outcomes are written in batches, roughly in order).
        var next = 0
        let deadline = start + .seconds(600)
        while next < ids.count {
            if try await storage.sms(id: ids[next]).status == .sent {
                next += 1
                continue
            }
            guard clock.now < deadline else { fail("\(ids.count - next) texts not sent after 600 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = clock.now - start
        await dispatcher.stop()
        running.cancel()
        let failed = try await (0..<min(mailboxes, 100)).asyncCount { try await storage.smsHistory(mailbox: "user\($0)@example.com", limit: 1000).contains { $0.attempts > 1 } }
        print("outbox: window \(window): \(rate(count, elapsed)) texts sent and recorded; \(failed) of the first mailboxes had a retry")
    } catch {
        fail("\(error)")
    }
}

func smtp(senders: Int, idle: Double, caFile: String?) async {
    let route = SMSRoute(name: "mail", kind: .smtp, host: "127.0.0.1", port: port, from: "voicemail@bench.test",
                         startTLS: caFile == nil ? .never : .required, caFile: caFile)
    let sender: SMTPSMSSender
    do {
        sender = try SMTPSMSSender(route: route, idleTimeout: .milliseconds(Int64(idle * 1000)))
    } catch { fail("\(error)") }
    let (failures, elapsed) = await sendAll(senders: senders) { _, number in
        await sender.send(text, to: number, domain: "sms.bench.test")
    }
    sender.shutdown()
    print("smtp: \(senders) senders, idle \(idle) s\(caFile == nil ? "" : ", STARTTLS"): \(rate(count, elapsed)) texts accepted, \(failures) failed")
    if failures > 0 { exit(1) }
}

extension Range<Int> {
    func asyncCount(_ predicate: (Int) async throws -> Bool) async rethrows -> Int {
        var n = 0
        for value in self where try await predicate(value) { n += 1 }
        return n
    }
}

switch arguments[1] {
case "smpp": await smpp(senders: fifth ?? 64)
case "outbox": await outbox(mailboxes: fifth ?? 1000)
case "smtp": await smtp(senders: arguments.count > 4 ? Int(arguments[4]) ?? 4 : 4, idle: fifth.map(Double.init) ?? 30,
                        caFile: arguments.count > 6 ? arguments[6] : nil)
default: fail("unknown mode \(arguments[1]) (smpp, outbox or smtp)")
}
