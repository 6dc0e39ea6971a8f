import Foundation
import GRDB
import Storage
import Synchronization
import Testing
import UnifiedMessaging

/// The embedded store on a real SQLite file in a temporary folder.
@Suite struct SQLiteStorageTests {
    let folder: URL
    var path: String { folder.appendingPathComponent("mwid.sqlite").path }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-storage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// A directory with one dial plan, policy, gateway and mailbox.
    func seeded() async throws -> SQLiteStorage {
        let storage = try SQLiteStorage(path: path)
        _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 4))
        _ = try await storage.create(MailboxPolicy(name: "Default", dialPlan: "Paris"))
        _ = try await storage.create(IPGateway(name: "pbx1", address: "192.0.2.10", dialPlans: ["Paris"], username: "u", password: "p"))
        _ = try await storage.create(UMMailbox(identity: "alice@example.com", extension: "1234", dialPlan: "Paris", policy: "Default"))
        return storage
    }

    func refusal(_ body: () async throws -> Void) async -> DirectoryError? {
        do {
            try await body()
            return nil
        } catch let error as DirectoryError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    /// A write answered is a write synced. The writer commits without syncing (GRDB's pool
    /// sets `synchronous = NORMAL` when it turns WAL on) and mwid syncs the WAL itself:
    /// the deposit is readable by another connection when the lamp is told (`visible`),
    /// before that sync, and answered only after a sync that began after its commit.
    @Test func aWriteIsVisibleAtOnceAndAnsweredOnceItsWALIsSynced() async throws {
        let storage = try await seeded()
        #expect(try await storage.writerDurability() == ("wal", 1, true))
        let other = try DatabaseQueue(path: path)
        struct Seen: Sendable { var readable: Int?; var syncsWhenVisible: Int?; var syncsWhenAnswered: Int? }
        let seen = Mutex(Seen())
        let change: MailboxChange = try await withCheckedThrowingContinuation { continuation in
            storage.deposit(VoiceMessageDeposit(from: "+33140000000", durationSeconds: 5), mailbox: "alice@example.com", id: "m1",
                            at: Date(), visible: { _ in
                                let readable = try? other.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM voice_message WHERE id = 'm1'") }
                                seen.withLock { $0.readable = readable ?? -1; $0.syncsWhenVisible = storage.walSyncs }
                            }, completion: { result in
                                seen.withLock { $0.syncsWhenAnswered = storage.walSyncs }
                                continuation.resume(with: result)
                            })
        }
        #expect(change.state.new == 1)
        let order = seen.withLock { $0 }
        #expect(order.readable == 1)
        let visible = try #require(order.syncsWhenVisible), answered = try #require(order.syncsWhenAnswered)
        #expect(answered > visible)
        // Still so for a store opened again, and the deposit is there.
        let reopened = try SQLiteStorage(path: path)
        #expect(try await reopened.writerDurability() == ("wal", 1, true))
        #expect(try await reopened.messages(mailbox: "alice@example.com").map(\.id) == ["m1"])
    }

    /// Hearing a message and deleting one move the lamp as a deposit does: told when the
    /// change is readable, before its WAL is synced and the call returns.
    @Test func readingAndDeletingAreVisibleBeforeTheyAreAnswered() async throws {
        let storage = try await seeded()
        let other = try DatabaseQueue(path: path)
        _ = try await storage.deposit(VoiceMessageDeposit(from: "+33140000000", durationSeconds: 5), mailbox: "alice@example.com",
                                      id: "m1", at: Date())
        /// What another reader saw, the syncs made by then, and the count the change reported.
        struct Seen: Sendable { var rows: Int?; var syncs: Int?; var count: Int? }
        let seen = Mutex(Seen())
        let read = try await storage.changeMessage(id: "m1", mailbox: "alice@example.com", VoiceMessageChange(read: true)) { change in
            let unread = try? other.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM voice_message WHERE read = 0") }
            seen.withLock { $0 = Seen(rows: unread ?? -1, syncs: storage.walSyncs, count: change.state.new) }
        }
        let atRead = seen.withLock { $0 }
        #expect(atRead.rows == 0 && atRead.count == 0 && read.state.old == 1)
        #expect(try #require(atRead.syncs) < storage.walSyncs)
        let removed = try await storage.removeMessage(id: "m1", mailbox: "alice@example.com") { change in
            let left = try? other.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM voice_message") }
            seen.withLock { $0 = Seen(rows: left ?? -1, syncs: storage.walSyncs, count: change.state.old) }
        }
        let atRemove = seen.withLock { $0 }
        #expect(atRemove.rows == 0 && atRemove.count == 0 && removed.previousState.old == 1)
        #expect(try #require(atRemove.syncs) < storage.walSyncs)
    }

    /// An operator may trade the sync of each commit for its latency: no sync is made, what
    /// was written is all there after reopening, and opening the same database again
    /// without the choice syncs again.
    @Test func commitsUnsyncedWhenTheOperatorSaysSo() async throws {
        _ = try await seeded()
        let unsynced = try SQLiteStorage(path: path, sync: .normal)
        #expect(try await unsynced.writerDurability() == ("wal", 1, false))
        _ = try await unsynced.deposit(VoiceMessageDeposit(from: "+33140000000", durationSeconds: 5), mailbox: "alice@example.com",
                                       id: "m1", at: Date())
        #expect(unsynced.walSyncs == 0)
        let reopened = try SQLiteStorage(path: path)
        #expect(try await reopened.writerDurability() == ("wal", 1, true))
        #expect(try await reopened.messages(mailbox: "alice@example.com").map(\.id) == ["m1"])
        _ = try await reopened.deposit(VoiceMessageDeposit(from: "+33140000000", durationSeconds: 5), mailbox: "alice@example.com",
                                       id: "m2", at: Date())
        #expect(reopened.walSyncs >= 1)
    }

    /// A database a newer mwid migrated (a schema version this one does not know) is not
    /// opened: the error names the versions, and the database is left untouched.
    @Test func aDatabaseOfANewerSchemaIsRefusedAndLeftAlone() async throws {
        _ = try await seeded()
        let known = try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: later'), ('v100: later still')")
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") ?? 0
        }
        do {
            _ = try SQLiteStorage(path: path)
            Issue.record("a database of a newer schema was opened")
        } catch let failure as StorageFailure {
            #expect(failure.description.contains("was upgraded by a newer mwid (schema \"v100: later still\", \"v99: later\" unknown"),
                    "\(failure)")
        }
        let queue = try DatabaseQueue(path: path)
        let (migrations, mailboxes) = try await queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") ?? 0,
             try String.fetchAll(db, sql: "SELECT identity FROM mailbox"))
        }
        #expect(migrations == known && known > 2 && mailboxes == ["alice@example.com"])
    }

    @Test func everythingIsThereAfterReopening() async throws {
        do {
            let storage = try await seeded()
            _ = try await storage.deposit(VoiceMessageDeposit(from: "+33142685300", durationSeconds: 12, urgent: true),
                                          mailbox: "alice@example.com", id: "m1", at: Date(timeIntervalSince1970: 1_800_000_000))
            #expect(try await storage.appliedMigrations() == ["v1: directory, voice messages, event log",
                                                              "v2: MWI delivery: state versions, acknowledged states, attempts",
                                                              "v3: subscriptions, unsolicited NOTIFYs per dial plan",
                                                              "v4: directory version (for cached dial plans, policies and gateways)",
                                                              "v5: attempts without AUTOINCREMENT (no sqlite_sequence write per attempt)",
                                                              "v6: SMS routes, carrier catalog, mailbox text settings, outbox, missed calls",
                                                              "v7: externally-fed mailboxes and their publications (SIP PUBLISH, PUT mwi)",
                                                              "v8: publications keyed by mailbox and entity tag",
                                                              "v9: voice messages keyed by mailbox and id",
                                                              "v10: subscriptions keyed by mailbox and id"])
        }
        let reopened = try SQLiteStorage(path: path)
        #expect(try await reopened.dialPlans().map(\.name) == ["Paris"])
        let gateway = try await reopened.gateway(named: "pbx1")
        #expect(gateway.dialPlans == ["Paris"] && gateway.password == "p")
        #expect(try await reopened.mailbox(identity: "alice@example.com").extension == "1234")
        let messages = try await reopened.messages(mailbox: "alice@example.com")
        #expect(messages.map(\.id) == ["m1"] && messages[0].receivedAt == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(try await reopened.messageWaitingState(mailbox: "alice@example.com") == MessageWaitingState(new: 1, urgentNew: 1))
        #expect(try await reopened.events(EventQuery()).count == 4)
    }

    @Test func messageChangesCommitTheNewStateWithThem() async throws {
        let storage = try await seeded()
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try await storage.deposit(VoiceMessageDeposit(from: "+331", durationSeconds: 3), mailbox: "alice@example.com", id: "a", at: at)
        #expect(first.previousState == MessageWaitingState() && first.state == MessageWaitingState(new: 1))
        _ = try await storage.deposit(VoiceMessageDeposit(from: "+332", durationSeconds: 4, urgent: true), mailbox: "alice@example.com", id: "b", at: at)
        let read = try await storage.changeMessage(id: "b", mailbox: "alice@example.com", VoiceMessageChange(read: true))
        #expect(read.state == MessageWaitingState(new: 1, old: 1, urgentNew: 0, urgentOld: 1))
        let lessUrgent = try await storage.changeMessage(id: "b", mailbox: "alice@example.com", VoiceMessageChange(urgent: false))
        #expect(lessUrgent.state == MessageWaitingState(new: 1, old: 1))
        let removed = try await storage.removeMessage(id: "a", mailbox: "alice@example.com")
        #expect(removed.state == MessageWaitingState(old: 1) && !removed.state.messagesWaiting)
        // A message is only reachable through its own mailbox.
        _ = try await storage.create(UMMailbox(identity: "bob", extension: "5678", dialPlan: "Paris", policy: "Default"))
        let foreign = await refusal { _ = try await storage.changeMessage(id: "b", mailbox: "bob", VoiceMessageChange(read: false)) }
        #expect(foreign?.code == .notFound)
        #expect(try await storage.messageWaitingState(mailbox: "alice@example.com") == MessageWaitingState(old: 1))
        let unknown = await refusal { _ = try await storage.deposit(VoiceMessageDeposit(from: "+3", durationSeconds: 1), mailbox: "nobody", id: "c", at: at) }
        #expect(unknown?.code == .notFound)
        #expect(try await storage.messages(mailbox: "alice@example.com").count == 1)
    }

    @Test func refusedWritesChangeNothing() async throws {
        let storage = try await seeded()
        let before = try await storage.events(EventQuery(limit: 1000))
        let duplicate = await refusal { _ = try await storage.create(UMMailbox(identity: "bob", extension: "1234", dialPlan: "Paris", policy: "Default")) }
        #expect(duplicate?.code == .conflict && duplicate?.field == "extension")
        let again = await refusal { _ = try await storage.create(DialPlan(name: "Paris", numberOfDigitsInExtension: 5)) }
        #expect(again?.code == .conflict && again?.field == "name")
        // A change that fails validation half-way leaves the stored object as it was.
        let bad = await refusal { _ = try await storage.updateGateway(named: "pbx1") { $0.port = 70000; $0.priority = 9 } }
        #expect(bad?.field == "port")
        #expect(try await storage.gateway(named: "pbx1").priority == 0)
        let rename = await refusal { _ = try await storage.updateDialPlan(named: "Paris") { $0.name = "Lyon" } }
        #expect(rename?.field == "name")
        let shorter = await refusal { _ = try await storage.updateDialPlan(named: "Paris") { $0.numberOfDigitsInExtension = 3 } }
        #expect(shorter?.field == "numberOfDigitsInExtension")
        let secure = await refusal {
            _ = try await storage.updateGateway(named: "pbx1") { $0.transport = .udp }
            _ = try await storage.updateDialPlan(named: "Paris") { $0.voipSecurity = .secured }
        }
        #expect(secure?.field == "voipSecurity")
        #expect(try await storage.dialPlan(named: "Paris") == DialPlan(name: "Paris", numberOfDigitsInExtension: 4))
        // Only the gateway change that was valid was logged.
        #expect(try await storage.events(EventQuery(limit: 1000)).count == before.count + 1)
    }

    @Test func removingSomethingStillReferencedNamesTheReferences() async throws {
        let storage = try await seeded()
        let plan = await refusal { try await storage.removeDialPlan(named: "Paris") }
        #expect(plan?.code == .inUse)
        for name in ["IP gateway pbx1", "mailbox policy Default", "mailbox alice@example.com"] {
            #expect(plan?.message.contains(name) == true, "\(name)")
        }
        let policy = await refusal { try await storage.removePolicy(named: "Default") }
        #expect(policy?.code == .inUse && policy?.message.contains("alice@example.com") == true)
        try await storage.removeMailbox(identity: "alice@example.com")
        try await storage.removeGateway(named: "pbx1")
        try await storage.removePolicy(named: "Default")
        try await storage.removeDialPlan(named: "Paris")
        #expect(try await storage.dialPlans().isEmpty)
        let gone = await refusal { try await storage.removeDialPlan(named: "Paris") }
        #expect(gone?.code == .notFound)
    }

    @Test func concurrentDepositsAreAllCommittedAndCounted() async throws {
        let storage = try await seeded()
        _ = try await storage.create(UMMailbox(identity: "bob", extension: "5678", dialPlan: "Paris", policy: "Default"))
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        // 400 deposits at once: they share transactions (group commit); one refused write
        // in the middle (unknown mailbox) must not take the others with it.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<400 {
                group.addTask {
                    let mailbox = i == 200 ? "nobody" : (i % 2 == 0 ? "alice@example.com" : "bob")
                    do {
                        _ = try await storage.deposit(VoiceMessageDeposit(from: "+33\(i)", durationSeconds: 1, urgent: i % 4 == 1),
                                                      mailbox: mailbox, id: "m\(i)", at: at)
                        return true
                    } catch is DirectoryError {
                        return false
                    }
                }
            }
            var committed = 0
            for try await ok in group where ok { committed += 1 }
            #expect(committed == 399)
        }
        #expect(try await storage.messageWaitingState(mailbox: "alice@example.com") == MessageWaitingState(new: 199))
        #expect(try await storage.messageWaitingState(mailbox: "bob") == MessageWaitingState(new: 200, urgentNew: 100))
    }

    @Test func storedCountsAlwaysEqualARecountOfTheMessages() async throws {
        let storage = try await seeded()
        var generator = SystemRandomNumberGenerator()
        var ids: [String] = []
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        for step in 0..<300 {
            switch (ids.isEmpty ? 0 : Int.random(in: 0..<4, using: &generator)) {
            case 0:
                let id = "s\(step)"
                _ = try await storage.deposit(VoiceMessageDeposit(from: "+33", durationSeconds: 1, urgent: Bool.random(using: &generator),
                                                                  read: Bool.random(using: &generator)),
                                              mailbox: "alice@example.com", id: id, at: at)
                ids.append(id)
            case 1:
                _ = try await storage.changeMessage(id: ids.randomElement(using: &generator) ?? "", mailbox: "alice@example.com",
                                                    VoiceMessageChange(read: Bool.random(using: &generator)))
            case 2:
                _ = try await storage.changeMessage(id: ids.randomElement(using: &generator) ?? "", mailbox: "alice@example.com",
                                                    VoiceMessageChange(urgent: Bool.random(using: &generator)))
            default:
                let id = ids.remove(at: Int.random(in: 0..<ids.count, using: &generator))
                _ = try await storage.removeMessage(id: id, mailbox: "alice@example.com")
            }
            let stored = try await storage.messageWaitingState(mailbox: "alice@example.com")
            let recount = MessageWaitingState(messages: try await storage.messages(mailbox: "alice@example.com"))
            #expect(stored == recount, "after step \(step)")
            if stored != recount { break }
        }
    }

    @Test func mailboxPagesAndFilters() async throws {
        let storage = try await seeded()
        for i in 0..<25 {
            _ = try await storage.create(UMMailbox(identity: String(format: "user%02d", i), extension: String(format: "20%02d", i),
                                                   dialPlan: "Paris", policy: "Default"))
        }
        let first = try await storage.mailboxes(MailboxQuery(limit: 10))
        #expect(first.count == 10 && first.first?.identity == "alice@example.com")
        let next = try await storage.mailboxes(MailboxQuery(after: first.last?.identity, limit: 10))
        #expect(next.first?.identity == "user09")
        #expect(try await storage.mailboxes(MailboxQuery(extension: "2007")).map(\.identity) == ["user07"])
        #expect(try await storage.mailboxes(MailboxQuery(dialPlan: "Lyon")).isEmpty)
    }

    @Test func deliveryContextFeedsThePolicyDecision() async throws {
        let storage = try await seeded()
        _ = try await storage.create(IPGateway(name: "pbx0", address: "192.0.2.9", dialPlans: ["Paris"], priority: -1))
        var context = try await storage.deliveryContext(mailbox: "alice@example.com")
        #expect(context.decision.gateways.map(\.name) == ["pbx0", "pbx1"])
        _ = try await storage.updatePolicy(named: "Default") { $0.allowMessageWaitingIndicator = false }
        context = try await storage.deliveryContext(mailbox: "alice@example.com")
        #expect(!context.decision.enabled)
    }

    @Test func deliveryContextsComeInOneReadAndFollowDirectoryChanges() async throws {
        let storage = try await seeded()
        _ = try await storage.create(UMMailbox(identity: "bob@example.com", extension: "1235", dialPlan: "Paris", policy: "Default"))
        var contexts = try await storage.deliveryContexts(mailboxes: ["alice@example.com", "bob@example.com", "nobody"])
        #expect(Set(contexts.keys) == ["alice@example.com", "bob@example.com"], "a mailbox that does not exist is left out")
        #expect(contexts["bob@example.com"]?.gateways.map(\.name) == ["pbx1"])
        // The directory snapshot is cached; a change of a gateway, policy or dial plan is seen at once.
        _ = try await storage.create(IPGateway(name: "pbx0", address: "192.0.2.9", dialPlans: ["Paris"], priority: -1))
        _ = try await storage.updatePolicy(named: "Default") { $0.allowMessageWaitingIndicator = false }
        _ = try await storage.updateDialPlan(named: "Paris") { $0.voipSecurity = .secured }
        contexts = try await storage.deliveryContexts(mailboxes: ["alice@example.com"])
        let alice = try #require(contexts["alice@example.com"])
        #expect(alice.gateways.map(\.name) == ["pbx0", "pbx1"] && !alice.policy.allowMessageWaitingIndicator)
        #expect(alice.dialPlan.voipSecurity == .secured)
        // A thousand at once (more than one statement's worth of names).
        for i in 0..<1_000 {
            _ = try await storage.create(UMMailbox(identity: "u\(i)", extension: String(format: "3%03d", i), dialPlan: "Paris", policy: "Default"))
        }
        #expect(try await storage.deliveryContexts(mailboxes: (0..<1_000).map { "u\($0)" }).count == 1_000)
    }

    @Test func deliveriesAreRecordedTogetherAndAnOlderAcknowledgementNeverWins() async throws {
        let storage = try await seeded()
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        func attempt(_ version: Int64, delivered: Bool) -> DeliveryAttempt {
            DeliveryAttempt(mailbox: "alice@example.com", version: version, state: MessageWaitingState(new: Int(version)),
                            gateway: "pbx1", transport: "udp", at: at, response: delivered ? "200 OK" : "timeout", delivered: delivered)
        }
        try await storage.recordDeliveries([
            DeliveryOutcome(mailbox: "alice@example.com", attempts: [attempt(2, delivered: false), attempt(2, delivered: true)],
                            acknowledged: AcknowledgedState(version: 2, state: MessageWaitingState(new: 2), gateway: "pbx1", at: at)),
            DeliveryOutcome(mailbox: "gone@example.com", attempts: [attempt(1, delivered: true)]),
        ])
        try await storage.recordDeliveries([
            DeliveryOutcome(mailbox: "alice@example.com", attempts: [attempt(1, delivered: true)],
                            acknowledged: AcknowledgedState(version: 1, state: MessageWaitingState(new: 1), gateway: "pbx1", at: at)),
        ])
        let context = try await storage.deliveryContext(mailbox: "alice@example.com")
        #expect(context.acknowledged?.version == 2 && context.acknowledged?.state.new == 2, "a late answer for an older state")
        let responses = try await storage.attempts(mailbox: "alice@example.com", limit: 10).map(\.response)
        #expect(responses == ["200 OK", "200 OK", "timeout"], "\(responses)")
        for _ in 0..<60 { try await storage.recordDeliveries([DeliveryOutcome(mailbox: "alice@example.com", attempts: [attempt(3, delivered: true)])]) }
        let kept = try await storage.attempts(mailbox: "alice@example.com", limit: 100).count
        #expect((50..<66).contains(kept), "the newest 50 are kept, and at most 15 more until the next pruning (\(kept))")
    }

    @Test func anUnusableFileIsAnError() throws {
        let notADatabase = folder.appendingPathComponent("junk.sqlite")
        try Data(repeating: 0x41, count: 4096).write(to: notADatabase)
        #expect(throws: (any Error).self) { _ = try SQLiteStorage(path: notADatabase.path) }
    }

    @Test func subscriptionsAreKeptUpdatedAndGoWithTheirMailbox() async throws {
        let storage = try await seeded()
        _ = try await storage.create(UMMailbox(identity: "bob@example.com", extension: "1235", dialPlan: "Paris", policy: "Default",
                                               sipResourceIdentifier: nil))
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        var subscription = MWISubscription(
            id: "a1b2c3d4e5f60718", mailbox: "alice@example.com", callID: "c1@192.0.2.50", remoteTag: "ph1",
            localURI: "<sip:1234@mwid>", remoteURI: "<sip:1234@mwid>", remoteTarget: "sip:phone@192.0.2.50:5062",
            routeSet: ["<sip:p1;lr>", "<sip:p2;lr>"], transport: "tcp", source: "192.0.2.50:40000", eventID: "7",
            remoteCSeq: 2, localCSeqReserved: 1001, expiresAt: at.addingTimeInterval(3600), createdAt: at, subscriber: "digest 1234")
        try await storage.save(subscription)
        #expect(try await SQLiteStorage(path: path).subscriptions() == [subscription], "everything survives a reopen")
        subscription.remoteCSeq = 3
        subscription.expiresAt = at.addingTimeInterval(7200)
        subscription.localCSeqReserved = 2001
        try await storage.save(subscription)
        #expect(try await storage.subscriptions() == [subscription], "a save updates in place")
        var orphan = subscription
        orphan.id = "ffffffffffffffff"
        orphan.mailbox = "nobody"
        #expect(await refusal { try await storage.save(orphan) }?.code == .notFound)
        try await storage.removeMailbox(identity: "alice@example.com")
        #expect(try await storage.subscriptions().isEmpty, "a mailbox's subscriptions go with it")
        try await storage.removeSubscription(id: "a1b2c3d4e5f60718", mailbox: "alice@example.com")  // already gone: nothing happens
    }

    @Test func mailboxesAreFoundByExtensionOrResourceIdentifier() async throws {
        let storage = try await seeded()
        _ = try await storage.create(DialPlan(name: "Sip", numberOfDigitsInExtension: 4, uriType: .sipName))
        _ = try await storage.create(MailboxPolicy(name: "SipDefault", dialPlan: "Sip"))
        _ = try await storage.create(UMMailbox(identity: "carol@example.com", extension: "1234", dialPlan: "Sip", policy: "SipDefault",
                                               sipResourceIdentifier: "sip:carol@example.com"))
        let byExtension = try await storage.deliveryContexts(extension: "1234", resourceIdentifiers: [])
        #expect(Set(byExtension.map(\.mailbox.identity)) == ["alice@example.com", "carol@example.com"], "one extension in two dial plans")
        let byURI = try await storage.deliveryContexts(extension: "carol", resourceIdentifiers: ["carol", "sip:carol@example.com"])
        #expect(byURI.map(\.mailbox.identity) == ["carol@example.com"])
        #expect(byURI.first?.policy.name == "SipDefault" && byURI.first?.dialPlan.uriType == .sipName, "with its delivery context")
        #expect(try await storage.deliveryContexts(extension: "9999", resourceIdentifiers: ["sip:9999@x"]).isEmpty)
    }

    /// The checkpointer beside the writer copies the WAL back into the database file long
    /// before SQLite's automatic checkpoint would (at 1000 pages: these 60 commits write
    /// about 300).
    @Test func committedWritesReachTheDatabaseFileWithoutAnyoneClosingIt() async throws {
        let storage = try await seeded()
        let file = { (try? FileManager.default.attributesOfItem(atPath: self.path)[.size] as? Int) ?? 0 }
        let before = file()
        let transcript = String(repeating: "Please call me back about the quarterly figures. ", count: 20)
        for i in 0..<60 {
            _ = try await storage.deposit(VoiceMessageDeposit(from: "+3314268\(i)", durationSeconds: 5, transcript: transcript),
                                          mailbox: "alice@example.com", id: "m\(i)", at: Date())
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while file() <= before + 40 * 1000, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(file() > before + 40 * 1000, "60 messages of 1 kB each are in the database file, not only in its WAL")
        #expect(try await storage.messages(mailbox: "alice@example.com").count == 60)
    }
}
