public import Foundation
import GRDB
import Synchronization
public import UnifiedMessaging

/// The embedded store: one SQLite file in WAL mode with foreign keys and durable
/// commits (the WAL synced before a write is answered), concurrent readers, and group
/// commit of writes.
public final class SQLiteStorage: Storage {
    private let pool: DatabasePool
    private let shortReaders: ShortReaders
    private let writes: WriteCoalescer
    /// Syncs the WAL before writes are answered (storage sync `full`); nil for `normal`.
    private let flusher: WALFlusher?
    /// Dial plans, policies and gateways as of a directory version: what every delivery
    /// needs besides its mailbox, read once instead of once per NOTIFY.
    private let snapshot = Mutex<DirectorySnapshot?>(nil)
    let clock: @Sendable () -> Date
    public let path: String

    /// 16 MiB of page cache per connection, the pool's and the short readers'.
    static let pageCache = "PRAGMA cache_size = -16384"

    /// When a commit is written to the disk for good, before its write is answered.
    public enum CommitSync: String, Sendable, CaseIterable {
        /// Synced before the answer: an answered write survives a crash of mwid and a
        /// power cut or kernel crash. (The writer commits with SQLite's `synchronous =
        /// NORMAL` and mwid syncs the WAL itself after each commit: see `WALFlusher`.)
        case full
        /// Written to the WAL but not synced (SQLite `synchronous = NORMAL`): an answered
        /// write survives a crash of mwid; a power cut or kernel crash may lose the last
        /// ones (the database itself stays consistent). Saves an fsync per commit.
        case normal
    }

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    /// `sync`: how each commit reaches the disk (`full` unless the operator chose otherwise).
    public init(path: String, clock: @escaping @Sendable () -> Date = { Date() }, sync: CommitSync = .full) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.label = "mwid"
        configuration.prepareDatabase { db in
            try db.run("PRAGMA synchronous = FULL")
            // A million mailboxes and their delivery records are some hundreds of MB: a
            // larger page cache keeps the hot pages. (Memory-mapped reads were tried:
            // a growing file makes every reader remap, which costs more than it saves.)
            try db.run(Self.pageCache)
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        // The pool turns WAL on for its writer after `prepareDatabase`, and with it
        // `synchronous = NORMAL`. Migrations commit synced (FULL); the writes after them
        // commit unsynced (NORMAL), and with sync `full` the flusher syncs each commit's
        // WAL frames before its write is answered.
        try pool.writeWithoutTransaction { db in try db.run("PRAGMA synchronous = FULL") }
        try Self.refuseNewerSchema(pool, path: path)
        try SQLiteSchema.migrator.migrate(pool)
        try pool.writeWithoutTransaction { db in try db.run("PRAGMA synchronous = NORMAL") }
        shortReaders = ShortReaders(path: path)
        flusher = sync == .full ? WALFlusher(databasePath: path) : nil
        writes = WriteCoalescer(writer: pool, checkpointer: try Checkpointer(path: path), flusher: flusher)
        self.clock = clock
        self.path = path
    }

    /// A database migrated by a newer mwid has schema versions this one does not know:
    /// running on it would fail writes one by one (an older query on a newer table), so
    /// mwid refuses to open it, naming them.
    private static func refuseNewerSchema(_ pool: DatabasePool, path: String) throws {
        let migrator = SQLiteSchema.migrator
        let unknown = try pool.read { db -> [String] in
            guard try migrator.hasBeenSuperseded(db) else { return [] }
            let known = Set(migrator.migrations)
            return try migrator.appliedIdentifiers(db).filter { !known.contains($0) }.sorted()
        }
        guard !unknown.isEmpty else { return }
        throw StorageFailure(
            "the database \(path) was upgraded by a newer mwid (schema \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")) "
                + "unknown to this one): run that mwid, or restore the backup taken before the upgrade")
    }

    /// How the writing connection commits: SQLite's `journal_mode` and `synchronous`
    /// (1 = NORMAL), and whether mwid syncs each commit's WAL before it is answered
    /// (storage sync `full`). For diagnostics and tests.
    public func writerDurability() async throws -> (journalMode: String, synchronous: Int, walSynced: Bool) {
        let synced = flusher != nil
        return try await pool.writeWithoutTransaction { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1, synced)
        }
    }

    /// How many times the WAL has been synced for answered writes (0 with storage sync
    /// `normal`). For diagnostics and tests.
    public var walSyncs: Int { flusher?.syncCount ?? 0 }

    /// The schema versions applied, oldest first.
    public func appliedMigrations() async throws -> [String] {
        // In the order they were registered (sorted as text, v10 would come before v2).
        try await pool.read { db -> [String] in
            let migrator = SQLiteSchema.migrator
            let applied = try migrator.appliedIdentifiers(db)
            return migrator.migrations.filter(applied.contains)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    /// The hot path's short reads (the delivery contexts of one mailbox or of one
    /// dispatcher batch, tens to hundreds of microseconds): run on the calling thread, on a
    /// connection of `ShortReaders`, rather than handed to a queue and awaited, since two
    /// thread hops cost more than the read; and without a transaction around them, each
    /// statement seeing the database as of its own start, which is enough where every row
    /// stands alone.
    /// Long reads (lists, start-up) stay on `read`, off the tasks' threads.
    func readShort<T>(_ body: (Database) throws -> T) throws -> T { try shortReaders.read(body) }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writes.write(body)
        } catch {
            throw Self.constraintConflict(error)
        }
    }

    /// The same, `visible` told as soon as the commit can be read (before it is durable).
    func write<T: Sendable>(visible: (@Sendable (T) -> Void)?,
                            _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        guard let visible else { return try await write(body) }
        do {
            return try await writes.write(body, visible: visible)
        } catch {
            throw Self.constraintConflict(error)
        }
    }

    /// Two writers raced past validation (another node, or two requests in one batch):
    /// the database's constraint is the last word.
    private static func constraintConflict(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError, error.resultCode == .SQLITE_CONSTRAINT else { return error }
        return DirectoryError(.conflict, field: nil, "the change conflicts with another one: \(error.message ?? "constraint failed")")
    }

    /// A change of a dial plan, gateway or policy: logged, and the directory's version
    /// bumped in the same transaction, so that every node's cached snapshot of them is
    /// read again.
    func logDirectoryChange(_ db: Database, _ kind: String, _ subject: String, _ message: String) throws {
        try db.run("UPDATE directory_version SET version = version + 1")
        try log(db, kind, subject, message)
    }

    func log(_ db: Database, _ kind: String, _ subject: String, _ message: String,
                     level: DirectoryEvent.Level = .info) throws {
        try db.run("INSERT INTO event (at, level, kind, subject, message) VALUES (?, ?, ?, ?, ?)",
                       [clock().timeIntervalSince1970, level.rawValue, kind, subject, message])
    }

    // MARK: Dial plans

    public func dialPlans() async throws -> [DialPlan] {
        try await read { db in try db.rows("SELECT * FROM dial_plan ORDER BY name").map(DialPlan.init(row:)) }
    }

    public func dialPlan(named name: String) async throws -> DialPlan {
        try await read { db in try Self.dialPlan(db, name) }
    }

    static func dialPlan(_ db: Database, _ name: String, field: String? = nil) throws -> DialPlan {
        guard let plan = try findDialPlan(db, name) else { throw DirectoryError.notFound("dial plan", name, field: field) }
        return plan
    }

    static func findDialPlan(_ db: Database, _ name: String) throws -> DialPlan? {
        try db.row("SELECT * FROM dial_plan WHERE name = ?", [name]).map(DialPlan.init(row:))
    }

    public func create(_ plan: DialPlan) async throws -> DialPlan {
        try DirectoryValidation.check(plan)
        return try await write { db in
            if try Self.findDialPlan(db, plan.name) != nil {
                throw DirectoryError(.conflict, field: "name", "dial plan \(plan.name) already exists")
            }
            try db.run("""
                INSERT INTO dial_plan (name, number_of_digits, uri_type, voip_security, country_code, unsolicited_when_subscribed)
                VALUES (?, ?, ?, ?, ?, ?)
                """, plan.arguments)
            try self.logDirectoryChange(db, "dialplan.created", plan.name, "dial plan \(plan.name) created")
            return plan
        }
    }

    public func updateDialPlan(named name: String, _ change: @escaping @Sendable (inout DialPlan) throws -> Void) async throws -> DialPlan {
        try await write { db in
            let old = try Self.dialPlan(db, name)
            var plan = old
            try change(&plan)
            try Self.keepName(plan.name, name, field: "name")
            guard plan != old else { return plan }
            let mailboxes = (plan.numberOfDigitsInExtension != old.numberOfDigitsInExtension || plan.uriType != old.uriType)
                ? try db.rows("SELECT * FROM mailbox WHERE dial_plan = ?", [name]).map(UMMailbox.init(row:))
                : []
            let gateways = try Self.gateways(db, servingDialPlan: name)
            try DirectoryValidation.checkChange(plan, mailboxes: mailboxes, gateways: gateways)
            try db.run("""
                UPDATE dial_plan SET number_of_digits = ?, uri_type = ?, voip_security = ?, country_code = ?,
                    unsolicited_when_subscribed = ? WHERE name = ?
                """, [plan.numberOfDigitsInExtension, plan.uriType.rawValue, plan.voipSecurity.rawValue,
                      plan.countryOrRegionCode, plan.unsolicitedNotifyWhenSubscribed, name])
            try self.logDirectoryChange(db, "dialplan.updated", name, "dial plan \(name) changed")
            return plan
        }
    }

    public func removeDialPlan(named name: String) async throws {
        try await write { db in
            _ = try Self.dialPlan(db, name)
            var users: [String] = []
            users += try db.strings("SELECT 'IP gateway ' || gateway FROM gateway_dial_plan WHERE dial_plan = ? ORDER BY gateway LIMIT 10", [name])
            users += try db.strings("SELECT 'mailbox policy ' || name FROM mailbox_policy WHERE dial_plan = ? ORDER BY name LIMIT 10", [name])
            users += try db.strings("SELECT 'mailbox ' || identity FROM mailbox WHERE dial_plan = ? ORDER BY identity LIMIT 10", [name])
            if !users.isEmpty {
                throw DirectoryError(.inUse, field: nil, "dial plan \(name) is still used by \(Self.list(users)); remove or move them first")
            }
            try db.run("DELETE FROM dial_plan WHERE name = ?", [name])
            try self.logDirectoryChange(db, "dialplan.removed", name, "dial plan \(name) removed")
        }
    }

    // MARK: Gateways

    public func gateways() async throws -> [IPGateway] {
        try await read { db in try Self.gateways(db, servingDialPlan: nil) }
    }

    public func gateway(named name: String) async throws -> IPGateway {
        try await read { db in try Self.gateway(db, name) }
    }

    static func gateway(_ db: Database, _ name: String) throws -> IPGateway {
        guard let row = try db.row("SELECT * FROM gateway WHERE name = ?", [name]) else {
            throw DirectoryError.notFound("IP gateway", name)
        }
        let plans = try db.strings("SELECT dial_plan FROM gateway_dial_plan WHERE gateway = ? ORDER BY position", [name])
        return IPGateway(row: row, dialPlans: plans)
    }

    static func gateways(_ db: Database, servingDialPlan plan: String?) throws -> [IPGateway] {
        let rows = plan == nil
            ? try db.rows("SELECT * FROM gateway ORDER BY priority, name")
            : try db.rows("""
                SELECT g.* FROM gateway g JOIN gateway_dial_plan l ON l.gateway = g.name
                WHERE l.dial_plan = ? ORDER BY g.priority, g.name
                """, [plan])
        var links: [String: [String]] = [:]
        for link in try db.rows("SELECT gateway, dial_plan FROM gateway_dial_plan ORDER BY gateway, position") {
            links[link["gateway"], default: []].append(link["dial_plan"])
        }
        return rows.map { row in IPGateway(row: row, dialPlans: links[row["name"]] ?? []) }
    }

    private static func checkGateway(_ db: Database, _ gateway: IPGateway) throws {
        var plans: [String: DialPlan] = [:]
        for name in gateway.dialPlans {
            if let plan = try findDialPlan(db, name) { plans[name] = plan }
        }
        try DirectoryValidation.check(gateway, dialPlans: plans)
    }

    private static func writeLinks(_ db: Database, _ gateway: IPGateway) throws {
        try db.run("DELETE FROM gateway_dial_plan WHERE gateway = ?", [gateway.name])
        for (position, plan) in gateway.dialPlans.enumerated() {
            try db.run("INSERT INTO gateway_dial_plan (gateway, dial_plan, position) VALUES (?, ?, ?)",
                           [gateway.name, plan, position])
        }
    }

    public func create(_ gateway: IPGateway) async throws -> IPGateway {
        try await write { db in
            try Self.checkGateway(db, gateway)
            if try db.row("SELECT 1 FROM gateway WHERE name = ?", [gateway.name]) != nil {
                throw DirectoryError(.conflict, field: "name", "IP gateway \(gateway.name) already exists")
            }
            try db.run("""
                INSERT INTO gateway (name, address, port, transport, status, mwi_allowed, priority, username, password)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, gateway.arguments)
            try Self.writeLinks(db, gateway)
            try self.logDirectoryChange(db, "gateway.created", gateway.name, "IP gateway \(gateway.name) created (\(gateway.address):\(gateway.port))")
            return gateway
        }
    }

    public func updateGateway(named name: String, _ change: @escaping @Sendable (inout IPGateway) throws -> Void) async throws -> IPGateway {
        try await write { db in
            let old = try Self.gateway(db, name)
            var gateway = old
            try change(&gateway)
            try Self.keepName(gateway.name, name, field: "name")
            guard gateway != old else { return gateway }
            try Self.checkGateway(db, gateway)
            try db.run("""
                UPDATE gateway SET address = ?, port = ?, transport = ?, status = ?, mwi_allowed = ?, priority = ?,
                username = ?, password = ? WHERE name = ?
                """, [gateway.address, gateway.port, gateway.transport.rawValue, gateway.status.rawValue,
                                 gateway.messageWaitingIndicatorAllowed, gateway.priority, gateway.username,
                                 gateway.password, name])
            if gateway.dialPlans != old.dialPlans { try Self.writeLinks(db, gateway) }
            try self.logDirectoryChange(db, "gateway.updated", name, "IP gateway \(name) changed")
            return gateway
        }
    }

    public func removeGateway(named name: String) async throws {
        try await write { db in
            _ = try Self.gateway(db, name)
            try db.run("DELETE FROM gateway WHERE name = ?", [name])
            try self.logDirectoryChange(db, "gateway.removed", name, "IP gateway \(name) removed")
        }
    }

    // MARK: Policies

    public func policies() async throws -> [MailboxPolicy] {
        try await read { db in try db.rows("SELECT * FROM mailbox_policy ORDER BY name").map(MailboxPolicy.init(row:)) }
    }

    public func policy(named name: String) async throws -> MailboxPolicy {
        try await read { db in try Self.policy(db, name) }
    }

    static func findPolicy(_ db: Database, _ name: String) throws -> MailboxPolicy? {
        try db.row("SELECT * FROM mailbox_policy WHERE name = ?", [name]).map(MailboxPolicy.init(row:))
    }

    static func policy(_ db: Database, _ name: String) throws -> MailboxPolicy {
        guard let policy = try findPolicy(db, name) else { throw DirectoryError.notFound("mailbox policy", name) }
        return policy
    }

    public func create(_ policy: MailboxPolicy) async throws -> MailboxPolicy {
        try await write { db in
            try DirectoryValidation.check(policy, dialPlanExists: try Self.findDialPlan(db, policy.dialPlan) != nil)
            if try Self.findPolicy(db, policy.name) != nil {
                throw DirectoryError(.conflict, field: "name", "mailbox policy \(policy.name) already exists")
            }
            try db.run("INSERT INTO mailbox_policy (name, dial_plan, allow_mwi, allow_sms) VALUES (?, ?, ?, ?)",
                           policy.arguments)
            try self.logDirectoryChange(db, "policy.created", policy.name, "mailbox policy \(policy.name) created")
            return policy
        }
    }

    public func updatePolicy(named name: String, _ change: @escaping @Sendable (inout MailboxPolicy) throws -> Void) async throws -> MailboxPolicy {
        try await write { db in
            let old = try Self.policy(db, name)
            var policy = old
            try change(&policy)
            try Self.keepName(policy.name, name, field: "name")
            guard policy != old else { return policy }
            try DirectoryValidation.check(policy, dialPlanExists: try Self.findDialPlan(db, policy.dialPlan) != nil)
            if policy.dialPlan != old.dialPlan,
               let user = try db.string("SELECT identity FROM mailbox WHERE policy = ? LIMIT 1", [name]) {
                throw DirectoryError.invalid("dialPlan", "mailbox \(user) uses policy \(name) in dial plan \(old.dialPlan); move its mailboxes first")
            }
            try db.run("UPDATE mailbox_policy SET dial_plan = ?, allow_mwi = ?, allow_sms = ? WHERE name = ?",
                           [policy.dialPlan, policy.allowMessageWaitingIndicator, policy.allowSMSNotification, name])
            try self.logDirectoryChange(db, "policy.updated", name, "mailbox policy \(name) changed")
            return policy
        }
    }

    public func removePolicy(named name: String) async throws {
        try await write { db in
            _ = try Self.policy(db, name)
            let users = try db.strings("SELECT 'mailbox ' || identity FROM mailbox WHERE policy = ? ORDER BY identity LIMIT 10", [name])
            if !users.isEmpty {
                throw DirectoryError(.inUse, field: nil, "mailbox policy \(name) is still used by \(Self.list(users)); change their policy first")
            }
            try db.run("DELETE FROM mailbox_policy WHERE name = ?", [name])
            try self.logDirectoryChange(db, "policy.removed", name, "mailbox policy \(name) removed")
        }
    }

    // MARK: Mailboxes

    public func mailboxes(_ query: MailboxQuery) async throws -> [UMMailbox] {
        try await read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let after = query.after { clauses.append("identity > ?"); arguments += [after] }
            if let plan = query.dialPlan { clauses.append("dial_plan = ?"); arguments += [plan] }
            if let policy = query.policy { clauses.append("policy = ?"); arguments += [policy] }
            if let ext = query.extension { clauses.append("extension = ?"); arguments += [ext] }
            let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            arguments += [max(0, query.limit)]
            return try db.rows("SELECT * FROM mailbox \(filter) ORDER BY identity LIMIT ?", arguments)
                .map(UMMailbox.init(row:))
        }
    }

    public func mailboxCount() async throws -> Int {
        try await read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM mailbox")) ?? 0 }
    }

    public func mailbox(identity: String) async throws -> UMMailbox {
        try await read { db in try Self.mailbox(db, identity) }
    }

    static func mailbox(_ db: Database, _ identity: String) throws -> UMMailbox {
        guard let row = try db.row("SELECT * FROM mailbox WHERE identity = ?", [identity]) else {
            throw DirectoryError.notFound("mailbox", identity)
        }
        return UMMailbox(row: row)
    }

    private static func checkMailbox(_ db: Database, _ mailbox: UMMailbox) throws {
        let owner = try db.string("SELECT identity FROM mailbox WHERE dial_plan = ? AND extension = ?",
                                        [mailbox.dialPlan, mailbox.extension])
        try DirectoryValidation.check(mailbox, dialPlan: try findDialPlan(db, mailbox.dialPlan),
                                      policy: try findPolicy(db, mailbox.policy), extensionOwner: owner)
    }

    public func create(_ mailbox: UMMailbox) async throws -> UMMailbox {
        try await write { db in
            try Self.checkMailbox(db, mailbox)
            if try db.row("SELECT 1 FROM mailbox WHERE identity = ?", [mailbox.identity]) != nil {
                throw DirectoryError(.conflict, field: "identity", "mailbox \(mailbox.identity) is already UM-enabled")
            }
            try db.run("""
                INSERT INTO mailbox (identity, extension, dial_plan, policy, sip_resource_identifier, sms_option, sip_password, mwi_source)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, mailbox.arguments)
            try self.log(db, "mailbox.created", mailbox.identity,
                         "mailbox \(mailbox.identity) UM-enabled with extension \(mailbox.extension) in dial plan \(mailbox.dialPlan)")
            return mailbox
        }
    }

    public func updateMailbox(identity: String, _ change: @escaping @Sendable (inout UMMailbox) throws -> Void) async throws -> UMMailbox {
        try await write { db in
            let old = try Self.mailbox(db, identity)
            var mailbox = old
            try change(&mailbox)
            try Self.keepName(mailbox.identity, identity, field: "identity")
            guard mailbox != old else { return mailbox }
            try Self.checkMailbox(db, mailbox)
            try db.run("""
                UPDATE mailbox SET extension = ?, dial_plan = ?, policy = ?, sip_resource_identifier = ?, sms_option = ?,
                sip_password = ?, mwi_source = ? WHERE identity = ?
                """, [mailbox.extension, mailbox.dialPlan, mailbox.policy, mailbox.sipResourceIdentifier,
                                 mailbox.umSMSNotificationOption.rawValue, mailbox.sipPassword, mailbox.mwiSource.rawValue, identity])
            if mailbox.mwiSource != old.mwiSource { try Self.switchSource(db, identity, to: mailbox.mwiSource) }
            try self.log(db, "mailbox.updated", identity, "mailbox \(identity) changed")
            return mailbox
        }
    }

    public func removeMailbox(identity: String) async throws {
        try await write { db in
            _ = try Self.mailbox(db, identity)
            try db.run("DELETE FROM mailbox WHERE identity = ?", [identity])
            try self.log(db, "mailbox.removed", identity, "mailbox \(identity) UM-disabled; its voice messages were deleted")
        }
    }

    public func messageWaitingState(mailbox identity: String) async throws -> MessageWaitingState {
        try await read { db in try Self.state(db, identity) }
    }

    static func state(_ db: Database, _ identity: String) throws -> MessageWaitingState {
        guard let row = try db.row("SELECT new_count, old_count, urgent_new_count, urgent_old_count FROM mailbox WHERE identity = ?",
                                         [identity]) else {
            throw DirectoryError.notFound("mailbox", identity)
        }
        return MessageWaitingState(row: row)
    }

    public func deliveryContext(mailbox identity: String) async throws -> DeliveryContext {
        guard let context = try await deliveryContexts(mailboxes: [identity])[identity] else {
            throw DirectoryError.notFound("mailbox", identity)
        }
        return context
    }

    nonisolated(nonsending) public func deliveryContexts(mailboxes identities: [String]) async throws -> [String: DeliveryContext] {
        try readShort { db in
            var contexts: [String: DeliveryContext] = [:]
            contexts.reserveCapacity(identities.count)
            for start in stride(from: 0, to: identities.count, by: 500) {
                let chunk = identities[start..<min(start + 500, identities.count)]
                let filter = chunk.count == 1 ? "m.identity = ?"
                    : "m.identity IN (" + Array(repeating: "?", count: chunk.count).joined(separator: ",") + ")"
                for context in try self.contexts(db, where: filter, Self.arguments(chunk)) {
                    contexts[context.mailbox.identity] = context
                }
            }
            return contexts
        }
    }

    public func deliveryContexts(extension: String?, resourceIdentifiers: [String]) async throws -> [DeliveryContext] {
        guard let (filter, arguments) = Self.addressFilter(extension: `extension`, resourceIdentifiers: resourceIdentifiers) else {
            return []
        }
        return try readShort { db in try self.contexts(db, where: filter, arguments) }
    }

    /// Statement arguments from strings, through GRDB's initializer for existentials: its
    /// generic one builds a key path at every call (seen in the profiles of the look-ups).
    static func arguments(_ values: some Collection<String>) -> StatementArguments {
        var existentials: [(any DatabaseValueConvertible)?] = []
        existentials.reserveCapacity(values.count)
        for value in values { existentials.append(value) }
        return StatementArguments(existentials)
    }

    /// The condition on `m` (the mailbox) of the mailboxes a SIP address names: its
    /// extension in any dial plan, or its SIP resource identifier. One statement; both
    /// columns are indexed. Nil when the address names nothing.
    static func addressFilter(extension: String?, resourceIdentifiers: [String]) -> (String, StatementArguments)? {
        var identifiers: [String] = []
        for identifier in resourceIdentifiers where !identifiers.contains(identifier) { identifiers.append(identifier) }
        guard `extension` != nil || !identifiers.isEmpty else { return nil }
        let filter = identifiers.count < addressFilters.count
            ? addressFilters[identifiers.count][`extension` == nil ? 0 : 1] : addressFilterText(identifiers.count, `extension` != nil)
        return (filter, arguments(`extension`.map { [$0] + identifiers } ?? identifiers))
    }

    /// The filters of the usual address shapes, made once (building the text per lookup
    /// showed in the profile of the PUBLISH path).
    private static let addressFilters = (0..<6).map { count in [addressFilterText(count, false), addressFilterText(count, true)] }

    private static func addressFilterText(_ identifiers: Int, _ byExtension: Bool) -> String {
        let marks = Array(repeating: "?", count: identifiers).joined(separator: ",")
        return [byExtension ? "m.extension = ?" : nil, identifiers == 0 ? nil : "m.sip_resource_identifier IN (\(marks))"]
            .compactMap { $0 }.joined(separator: " OR ")
    }

    /// Dial plans, policies and gateways as of `version` of the directory: the cached
    /// snapshot, or read again (and cached) when a directory change bumped the version.
    private func directory(_ db: Database, version: Int64) throws -> DirectorySnapshot {
        if let cached = snapshot.withLock({ $0 }), cached.version == version { return cached }
        let fresh = DirectorySnapshot(
            version: version, dialPlans: try db.rows("SELECT * FROM dial_plan").map(DialPlan.init(row:)),
            policies: try db.rows("SELECT * FROM mailbox_policy").map(MailboxPolicy.init(row:)),
            gateways: try Self.gateways(db, servingDialPlan: nil))
        snapshot.withLock { $0 = fresh }
        return fresh
    }

    /// The delivery contexts of the mailboxes `filter` selects (on `m`, the mailbox). One
    /// statement: the directory's version comes with the rows (the cached dial plans,
    /// policies and gateways are used while it has not moved), so the look-up takes the
    /// database's read lock once and sees one state of it.
    private func contexts(_ db: Database, where filter: String, _ arguments: StatementArguments) throws -> [DeliveryContext] {
        // Columns by position, read straight from the statement (`StatementRow`).
        var contexts: [DeliveryContext] = []
        try db.each("""
            SELECT m.identity, m.extension, m.dial_plan, m.policy, m.sip_resource_identifier, m.sms_option,
                m.sip_password, m.new_count, m.old_count, m.urgent_new_count, m.urgent_old_count, m.state_version,
                a.version, a.new_count, a.old_count, a.urgent_new_count, a.urgent_old_count, a.gateway, a.at, m.mwi_source,
                (SELECT version FROM directory_version)
            FROM mailbox m LEFT JOIN mwi_acknowledged a ON a.mailbox = m.identity WHERE \(filter)
            """, arguments) { row in
            let directory = try self.directory(db, version: row[20] ?? 0)
            let mailbox = UMMailbox(identity: try row.required(0, "mailbox.identity"), extension: try row.required(1, "mailbox.extension"),
                                    dialPlan: try row.required(2, "mailbox.dial_plan"), policy: try row.required(3, "mailbox.policy"),
                                    sipResourceIdentifier: row[4],
                                    umSMSNotificationOption: SMSNotificationOption(lenient: row[5] ?? "") ?? .none,
                                    sipPassword: row[6], mwiSource: MWISource(lenient: row[19] ?? "") ?? .messages)
            guard let plan = directory.dialPlans[mailbox.dialPlan], let policy = directory.policies[mailbox.policy] else { return }
            let acknowledged: AcknowledgedState? = (row[12] as Int64?).map { version in
                AcknowledgedState(version: version,
                                  state: MessageWaitingState(new: row[13] ?? 0, old: row[14] ?? 0, urgentNew: row[15] ?? 0,
                                                             urgentOld: row[16] ?? 0),
                                  gateway: row[17] ?? "", at: Date(timeIntervalSince1970: row[18] ?? 0))
            }
            contexts.append(DeliveryContext(
                mailbox: mailbox, dialPlan: plan, policy: policy, gateways: directory.gateways(serving: mailbox.dialPlan),
                state: MessageWaitingState(new: row[7] ?? 0, old: row[8] ?? 0, urgentNew: row[9] ?? 0, urgentOld: row[10] ?? 0),
                version: row[11] ?? 0, acknowledged: acknowledged))
        }
        return contexts
    }

    // MARK: Voice messages

    /// Stores the mailbox's new counts in the transaction of the change that moved them.
    static func store(_ state: MessageWaitingState, _ identity: String, _ db: Database,
                              before: MessageWaitingState) throws -> MessageWaitingState {
        guard state != before else { return state }  // the lamp does not move: no new version
        try db.run("""
            UPDATE mailbox SET new_count = ?, old_count = ?, urgent_new_count = ?, urgent_old_count = ?,
                state_version = state_version + 1 WHERE identity = ?
            """,
                   [state.new, state.old, state.urgentNew, state.urgentOld, identity])
        return state
    }

    public func deposit(_ deposit: VoiceMessageDeposit, mailbox identity: String, id: String, at now: Date) async throws -> MailboxChange {
        try await write(try depositing(deposit, mailbox: identity, id: id, at: now))
    }

    public func deposit(_ deposit: VoiceMessageDeposit, mailbox identity: String, id: String, at now: Date,
                        visible: (@Sendable (MailboxChange) -> Void)?,
                        completion: @escaping @Sendable (Result<MailboxChange, any Error>) -> Void) {
        let body: @Sendable (Database) throws -> MailboxChange
        do {
            body = try depositing(deposit, mailbox: identity, id: id, at: now)
        } catch {
            return completion(.failure(error))
        }
        writes.write(body, visible: visible) { completion($0.mapError(Self.constraintConflict)) }
    }

    /// A deposit's transaction: checked first (a refusal throws here, before any write).
    private func depositing(_ deposit: VoiceMessageDeposit, mailbox identity: String, id: String,
                            at now: Date) throws -> @Sendable (Database) throws -> MailboxChange {
        try DirectoryValidation.check(deposit)
        let message = deposit.message(id: id, now: now)
        let delta = MessageWaitingState().changed(from: nil, to: message)
        return { db in
            // One statement moves the counts and reads them back (and finds the mailbox).
            guard let (state, smsOption, source) = try db.first("""
                UPDATE mailbox SET new_count = new_count + ?, old_count = old_count + ?,
                    urgent_new_count = urgent_new_count + ?, urgent_old_count = urgent_old_count + ?,
                    state_version = state_version + 1
                WHERE identity = ? RETURNING new_count, old_count, urgent_new_count, urgent_old_count, sms_option, mwi_source
                """, [delta.new, delta.old, delta.urgentNew, delta.urgentOld, identity], { row in
                    (MessageWaitingState(new: row[0] ?? 0, old: row[1] ?? 0, urgentNew: row[2] ?? 0, urgentOld: row[3] ?? 0),
                     SMSNotificationOption(lenient: row[4] ?? "") ?? .none, MWISource(lenient: row[5] ?? "") ?? .messages)
                }) else {
                throw DirectoryError.notFound("mailbox", identity)
            }
            // (Thrown, the transaction is rolled back: the counts did not move.)
            if source == .external { throw Self.externallyFed(identity) }
            try db.run("""
                INSERT INTO voice_message (id, mailbox, caller, received_at, duration_seconds, urgent, protected, read, transcript)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [message.id, identity, message.from, message.receivedAt.timeIntervalSince1970,
                      message.durationSeconds, message.urgent, message.protected, message.read, message.transcript])
            // Its text, if the user is to get one, is queued in the same transaction (no
            // further read for the many mailboxes whose option is None).
            let sms = smsOption != .none && !message.read
                ? try Self.queueVoiceMailSMS(db, message, mailbox: identity, now: now) : nil
            return MailboxChange(message: message, state: state, previousState: state.changed(from: message, to: nil), sms: sms)
        }
    }

    public func messages(mailbox identity: String) async throws -> [VoiceMessage] {
        try await read { db in
            _ = try Self.state(db, identity)
            return try db.rows("SELECT * FROM voice_message WHERE mailbox = ? ORDER BY received_at DESC, id",
                                    [identity]).map(VoiceMessage.init(row:))
        }
    }

    public func message(id: String, mailbox identity: String) async throws -> VoiceMessage {
        try await read { db in try Self.message(db, id, identity) }
    }

    static func message(_ db: Database, _ id: String, _ identity: String) throws -> VoiceMessage {
        _ = try state(db, identity)
        guard let row = try db.row("SELECT * FROM voice_message WHERE mailbox = ? AND id = ?", [identity, id]) else {
            throw DirectoryError.notFound("voice message", id)
        }
        return VoiceMessage(row: row)
    }

    public func changeMessage(id: String, mailbox identity: String, _ change: VoiceMessageChange,
                              visible: (@Sendable (MailboxChange) -> Void)?) async throws -> MailboxChange {
        try await write(visible: visible) { db in
            let (before, source) = try Self.counts(db, identity)
            let old = try Self.message(db, id, identity)
            let message = change.applied(to: old)
            try db.run("UPDATE voice_message SET read = ?, urgent = ? WHERE mailbox = ? AND id = ?", [message.read, message.urgent, identity, id])
            // Messages kept from before a mailbox became externally fed do not move its counts.
            guard source == .messages else { return MailboxChange(message: message, state: before, previousState: before) }
            return MailboxChange(message: message, state: try Self.store(before.changed(from: old, to: message), identity, db, before: before),
                                 previousState: before)
        }
    }

    public func removeMessage(id: String, mailbox identity: String,
                              visible: (@Sendable (MailboxChange) -> Void)?) async throws -> MailboxChange {
        try await write(visible: visible) { db in
            let (before, source) = try Self.counts(db, identity)
            let message = try Self.message(db, id, identity)
            try db.run("DELETE FROM voice_message WHERE mailbox = ? AND id = ?", [identity, id])
            guard source == .messages else { return MailboxChange(message: message, state: before, previousState: before) }
            return MailboxChange(message: message, state: try Self.store(before.changed(from: message, to: nil), identity, db, before: before),
                                 previousState: before)
        }
    }

    // MARK: MWI delivery

    public func pendingDeliveries(limit: Int) async throws -> [String] {
        try await read { db in
            try db.strings("""
                SELECT m.identity FROM mailbox m LEFT JOIN mwi_acknowledged a ON a.mailbox = m.identity
                WHERE m.state_version > COALESCE(a.version, 0) ORDER BY m.identity LIMIT ?
                """, [limit])
        }
    }

    public func recordDeliveries(_ outcomes: [DeliveryOutcome]) async throws {
        guard !outcomes.isEmpty else { return }
        try await write { db in
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM mailbox WHERE identity = ?")
            // The mailbox may have been removed meanwhile: nothing to keep then. The insert
            // checks it itself (one statement a NOTIFY less than a query before it).
            let insert = try db.cachedStatement(sql: """
                INSERT INTO mwi_attempt (mailbox, version, state, gateway, transport, at, response, delivered)
                SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM mailbox WHERE identity = ?9)
                """)
            let prune = try db.cachedStatement(sql: """
                DELETE FROM mwi_attempt WHERE mailbox = ? AND id <= (
                    SELECT id FROM mwi_attempt WHERE mailbox = ? ORDER BY id DESC LIMIT 1 OFFSET 50)
                """)
            // A late answer for an older version never replaces a newer acknowledgement.
            let acknowledge = try db.cachedStatement(sql: """
                INSERT INTO mwi_acknowledged (mailbox, version, new_count, old_count, urgent_new_count, urgent_old_count, gateway, at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (mailbox) DO UPDATE SET version = excluded.version, new_count = excluded.new_count,
                    old_count = excluded.old_count, urgent_new_count = excluded.urgent_new_count,
                    urgent_old_count = excluded.urgent_old_count, gateway = excluded.gateway, at = excluded.at
                WHERE excluded.version >= mwi_acknowledged.version
                """)
            outcomes: for outcome in outcomes {
                if outcome.attempts.isEmpty, try Row.fetchOne(exists, arguments: [outcome.mailbox]) == nil { continue }
                var pruneDue = false
                for attempt in outcome.attempts {
                    try insert.execute(arguments: [attempt.mailbox, attempt.version, attempt.state.description, attempt.gateway,
                                                   attempt.transport, attempt.at.timeIntervalSince1970, attempt.response,
                                                   attempt.delivered, outcome.mailbox])
                    if db.changesCount == 0 { continue outcomes }  // the mailbox is gone
                    // Pruning costs an index walk: done at one insert in 16 (by row id), so a
                    // mailbox keeps its newest 50 attempts and rarely a few more meanwhile.
                    pruneDue = pruneDue || db.lastInsertedRowID % 16 == 0
                }
                if pruneDue { try prune.execute(arguments: [outcome.mailbox, outcome.mailbox]) }
                if let a = outcome.acknowledged {
                    let s = a.state
                    try acknowledge.execute(arguments: [outcome.mailbox, a.version, s.new, s.old, s.urgentNew, s.urgentOld, a.gateway,
                                                        a.at.timeIntervalSince1970])
                }
            }
        }
    }

    public func markForRefresh(_ scope: RefreshScope) async throws -> [String] {
        try await write { db in
            let filter: String
            let argument: String?
            switch scope {
            case .mailboxes(let identities):
                guard !identities.isEmpty else { return [] }
                let marks = Array(repeating: "?", count: identities.count).joined(separator: ",")
                return try db.strings("UPDATE mailbox SET state_version = state_version + 1 WHERE identity IN (\(marks)) RETURNING identity",
                                      Self.arguments(identities))
            case .mailbox(let identity):
                _ = try Self.mailbox(db, identity)
                (filter, argument) = ("identity = ?", identity)
            case .gateway(let name):
                _ = try Self.gateway(db, name)
                (filter, argument) = ("dial_plan IN (SELECT dial_plan FROM gateway_dial_plan WHERE gateway = ?)", name)
            case .dialPlan(let name):
                _ = try Self.dialPlan(db, name)
                (filter, argument) = ("dial_plan = ?", name)
            case .policy(let name):
                _ = try Self.policy(db, name)
                (filter, argument) = ("policy = ?", name)
            case .all:
                (filter, argument) = ("1", nil)
            }
            return try db.strings("UPDATE mailbox SET state_version = state_version + 1 WHERE \(filter) RETURNING identity",
                                  argument.map { [$0] } ?? [])
        }
    }

    public func attempts(mailbox identity: String, limit: Int) async throws -> [DeliveryAttempt] {
        try await read { db in
            try db.rows("SELECT * FROM mwi_attempt WHERE mailbox = ? ORDER BY id DESC LIMIT ?", [identity, limit]).map { row in
                DeliveryAttempt(mailbox: row["mailbox"], version: row["version"],
                                state: MessageWaitingState(parsing: row["state"] ?? "") ?? MessageWaitingState(),
                                gateway: row["gateway"], transport: row["transport"],
                                at: Date(timeIntervalSince1970: row["at"]), response: row["response"], delivered: row["delivered"])
            }
        }
    }

    // MARK: Subscriptions

    public func subscriptions() async throws -> [MWISubscription] {
        try await read { db in try db.rows("SELECT * FROM subscription ORDER BY mailbox, created_at").map(MWISubscription.init(row:)) }
    }

    /// One B-tree entry, on the mailbox's page (keyed by mailbox and id since v10). The
    /// foreign key finds the mailbox: one that no longer exists is `notFound`.
    public func save(_ subscription: MWISubscription) async throws {
        try await write { db in
            do {
                try db.run("""
                    INSERT INTO subscription (mailbox, id, call_id, remote_tag, local_uri, remote_uri, remote_target, route_set,
                        transport, source, event_id, remote_cseq, local_cseq_reserved, expires_at, created_at, subscriber)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (mailbox, id) DO UPDATE SET remote_target = excluded.remote_target,
                        route_set = excluded.route_set, transport = excluded.transport, source = excluded.source,
                        remote_cseq = excluded.remote_cseq, local_cseq_reserved = excluded.local_cseq_reserved,
                        expires_at = excluded.expires_at, subscriber = excluded.subscriber
                    """, subscription.arguments)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY {
                throw DirectoryError.notFound("mailbox", subscription.mailbox)
            }
        }
    }

    public func removeSubscription(id: String, mailbox: String) async throws {
        try await write { db in try db.run("DELETE FROM subscription WHERE mailbox = ? AND id = ?", [mailbox, id]) }
    }

    public func log(_ level: DirectoryEvent.Level, kind: String, subject: String, message: String) async throws {
        try await write { db in try self.log(db, kind, subject, message, level: level) }
    }

    // MARK: Events

    public func events(_ query: EventQuery) async throws -> [DirectoryEvent] {
        try await read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let after = query.after { clauses.append("id > ?"); arguments += [after] }
            if let subject = query.subject { clauses.append("subject = ?"); arguments += [subject] }
            let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            let order = query.after == nil ? "DESC" : "ASC"
            arguments += [max(0, query.limit)]
            return try db.rows("SELECT * FROM event \(filter) ORDER BY id \(order) LIMIT ?", arguments)
                .map(DirectoryEvent.init(row:))
        }
    }

    // MARK: Helpers

    private static func keepName(_ new: String, _ old: String, field: String) throws {
        if new != old { throw DirectoryError.invalid(field, "cannot be changed (\(old)); create a new object instead") }
    }

    private static func list(_ users: [String]) -> String {
        users.count > 10 ? users.prefix(10).joined(separator: ", ") + ", …" : users.joined(separator: ", ")
    }
}
