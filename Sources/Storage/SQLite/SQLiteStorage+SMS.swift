public import Foundation
import GRDB
public import UnifiedMessaging

/// SMS routes, the carrier catalog, the mailboxes' text settings, the outbox and missed
/// calls. A text is queued in the transaction of the event it tells of (a deposit, a
/// missed call): what is committed is what will be sent.
extension SQLiteStorage {
    // MARK: Routes

    public func smsRoutes() async throws -> [SMSRoute] {
        try await read { db in try db.strings("SELECT definition FROM sms_route ORDER BY name").map(StoredJSON.route) }
    }

    public func smsRoute(named name: String) async throws -> SMSRoute {
        try await read { db in try Self.smsRoute(db, name) }
    }

    static func findSMSRoute(_ db: Database, _ name: String) throws -> SMSRoute? {
        try db.string("SELECT definition FROM sms_route WHERE name = ?", [name]).map(StoredJSON.route)
    }

    static func smsRoute(_ db: Database, _ name: String, field: String? = nil) throws -> SMSRoute {
        guard let route = try findSMSRoute(db, name) else { throw DirectoryError.notFound("SMS route", name, field: field) }
        return route
    }

    public func create(_ route: SMSRoute) async throws -> SMSRoute {
        try DirectoryValidation.check(route)
        return try await write { db in
            if try Self.findSMSRoute(db, route.name) != nil {
                throw DirectoryError(.conflict, field: "name", "SMS route \(route.name) already exists")
            }
            try Self.storeRoute(db, route)
            try self.log(db, "sms.route.created", route.name, "SMS route \(route.name) (\(route.kind)) created")
            return route
        }
    }

    public func updateSMSRoute(named name: String, _ change: @escaping @Sendable (inout SMSRoute) throws -> Void) async throws -> SMSRoute {
        try await write { db in
            let old = try Self.smsRoute(db, name)
            var route = old
            try change(&route)
            guard route.name == name else { throw DirectoryError.invalid("name", "cannot be changed (\(name)); create a new route instead") }
            guard route != old else { return route }
            try DirectoryValidation.check(route)
            try Self.checkCarriers(db, of: route)
            try Self.storeRoute(db, route)
            try self.log(db, "sms.route.updated", name, "SMS route \(name) changed")
            return route
        }
    }

    public func removeSMSRoute(named name: String) async throws {
        try await write { db in
            _ = try Self.smsRoute(db, name)
            let users = try db.strings("SELECT 'carrier ' || name || ' (' || locale || ')' FROM sms_carrier WHERE route = ? ORDER BY locale, name LIMIT 10", [name])
            if !users.isEmpty {
                throw DirectoryError(.inUse, field: nil, "SMS route \(name) is still used by \(users.joined(separator: ", ")); move or remove them first")
            }
            try db.run("DELETE FROM sms_route WHERE name = ?", [name])
            try self.log(db, "sms.route.removed", name, "SMS route \(name) removed")
        }
    }

    static func storeRoute(_ db: Database, _ route: SMSRoute) throws {
        try db.run("""
            INSERT INTO sms_route (name, kind, definition) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, definition = excluded.definition
            """, [route.name, route.kind.rawValue, try StoredJSON.text(route)])
    }

    /// A route's carriers must stay valid with it (an smtp route needs their email domains).
    static func checkCarriers(_ db: Database, of route: SMSRoute) throws {
        for carrier in try db.rows("SELECT * FROM sms_carrier WHERE route = ?", [route.name]).map(SMSCarrier.init(row:)) {
            do {
                try DirectoryValidation.check(carrier, route: route)
            } catch {
                throw DirectoryError.invalid(error.field ?? "kind", "carrier \(carrier.name) (\(carrier.locale)) would be invalid: \(error.message)")
            }
        }
    }

    // MARK: Carriers

    public func smsCarriers(locale: String?) async throws -> [SMSCarrier] {
        try await read { db in
            if let locale {
                return try db.rows("SELECT * FROM sms_carrier WHERE locale = ? ORDER BY name", [PhoneNumber.canonicalLocale(locale)])
                    .map(SMSCarrier.init(row:))
            }
            return try db.rows("SELECT * FROM sms_carrier ORDER BY locale, name").map(SMSCarrier.init(row:))
        }
    }

    public func smsCarrier(locale: String, name: String) async throws -> SMSCarrier {
        try await read { db in try Self.smsCarrier(db, locale, name) }
    }

    static func findSMSCarrier(_ db: Database, _ locale: String, _ name: String) throws -> SMSCarrier? {
        try db.row("SELECT * FROM sms_carrier WHERE locale = ? AND name = ?", [PhoneNumber.canonicalLocale(locale), name])
            .map(SMSCarrier.init(row:))
    }

    static func smsCarrier(_ db: Database, _ locale: String, _ name: String, field: String? = nil) throws -> SMSCarrier {
        guard let carrier = try findSMSCarrier(db, locale, name) else {
            throw DirectoryError.notFound("carrier", "\(name)\" in locale \"\(locale)", field: field)
        }
        return carrier
    }

    public func create(_ carrier: SMSCarrier) async throws -> SMSCarrier {
        var carrier = carrier
        carrier.locale = PhoneNumber.canonicalLocale(carrier.locale)
        return try await write { [carrier] db in
            try DirectoryValidation.check(carrier, route: try Self.findSMSRoute(db, carrier.route))
            if try Self.findSMSCarrier(db, carrier.locale, carrier.name) != nil {
                throw DirectoryError(.conflict, field: "name", "carrier \(carrier.name) already exists in locale \(carrier.locale)")
            }
            try Self.storeCarrier(db, carrier)
            try self.log(db, "sms.carrier.created", carrier.name, "carrier \(carrier.name) (\(carrier.locale)) created on route \(carrier.route)")
            return carrier
        }
    }

    public func updateSMSCarrier(locale: String, name: String,
                                 _ change: @escaping @Sendable (inout SMSCarrier) throws -> Void) async throws -> SMSCarrier {
        try await write { db in
            let old = try Self.smsCarrier(db, locale, name)
            var carrier = old
            try change(&carrier)
            carrier.locale = PhoneNumber.canonicalLocale(carrier.locale)
            guard carrier.locale == old.locale else { throw DirectoryError.invalid("locale", "cannot be changed (\(old.locale)); create a new carrier instead") }
            guard carrier.name == old.name else { throw DirectoryError.invalid("name", "cannot be changed (\(old.name)); create a new carrier instead") }
            guard carrier != old else { return carrier }
            try DirectoryValidation.check(carrier, route: try Self.findSMSRoute(db, carrier.route))
            try Self.storeCarrier(db, carrier)
            try self.log(db, "sms.carrier.updated", name, "carrier \(name) (\(carrier.locale)) changed")
            return carrier
        }
    }

    public func removeSMSCarrier(locale: String, name: String) async throws {
        try await write { db in
            let carrier = try Self.smsCarrier(db, locale, name)
            let users = try db.strings("""
                SELECT mailbox FROM mailbox_sms WHERE json_extract(settings, '$.carrier') = ? AND json_extract(settings, '$.locale') = ?
                ORDER BY mailbox LIMIT 10
                """, [carrier.name, carrier.locale])
            if !users.isEmpty {
                throw DirectoryError(.inUse, field: nil,
                                     "carrier \(name) is the carrier of mailbox \(users.joined(separator: ", ")); their users must set up text messaging again first")
            }
            try db.run("DELETE FROM sms_carrier WHERE locale = ? AND name = ?", [carrier.locale, carrier.name])
            try self.log(db, "sms.carrier.removed", name, "carrier \(name) (\(carrier.locale)) removed")
        }
    }

    static func storeCarrier(_ db: Database, _ carrier: SMSCarrier) throws {
        try db.run("""
            INSERT INTO sms_carrier (locale, name, route, email_domain) VALUES (?, ?, ?, ?)
            ON CONFLICT (locale, name) DO UPDATE SET route = excluded.route, email_domain = excluded.email_domain
            """, [carrier.locale, carrier.name, carrier.route, carrier.emailDomain])
    }

    public func applySMSCatalog(routes: [SMSRoute], carriers: [SMSCarrier]) async throws {
        for route in routes { try DirectoryValidation.check(route) }
        try await write { db in
            for route in routes { try Self.storeRoute(db, route) }
            for var carrier in carriers {
                carrier.locale = PhoneNumber.canonicalLocale(carrier.locale)
                try DirectoryValidation.check(carrier, route: try Self.findSMSRoute(db, carrier.route))
                try Self.storeCarrier(db, carrier)
            }
            for route in routes { try Self.checkCarriers(db, of: route) }
            try self.log(db, "sms.catalog.loaded", "sms", "carrier catalog applied: \(routes.count) routes, \(carriers.count) carriers")
        }
    }

    // MARK: Mailbox settings

    public func smsSettings(mailbox identity: String) async throws -> SMSSettings {
        try await read { db in try Self.smsSettings(db, identity) }
    }

    static func smsSettings(_ db: Database, _ identity: String) throws -> SMSSettings {
        guard let row = try db.row("""
            SELECT s.settings FROM mailbox m LEFT JOIN mailbox_sms s ON s.mailbox = m.identity WHERE m.identity = ?
            """, [identity]) else {
            throw DirectoryError.notFound("mailbox", identity)
        }
        return try (row[0] as String?).map(StoredJSON.settings) ?? SMSSettings()
    }

    public func updateSMSSettings<T: Sendable>(mailbox identity: String,
                                               _ change: @escaping @Sendable (inout SMSSettings) throws -> T) async throws -> (SMSSettings, T) {
        try await write { db in
            var settings = try Self.smsSettings(db, identity)
            let result = try change(&settings)
            try db.run("""
                INSERT INTO mailbox_sms (mailbox, settings) VALUES (?, ?)
                ON CONFLICT (mailbox) DO UPDATE SET settings = excluded.settings
                """, [identity, try StoredJSON.text(settings)])
            return (settings, result)
        }
    }

    // MARK: Queueing

    /// Queues the text of `purpose` when the mailbox is to get one (SPEC §3), in the
    /// caller's transaction. `compose` writes it from the settings, the dial plan's
    /// country code and the time it will go.
    static func queueSMS(_ db: Database, _ purpose: SMSPurpose, mailbox identity: String, subject: String, now: Date,
                         compose: (SMSSettings, String?, Date) -> String) throws -> SMSRecord? {
        guard let row = try db.row("""
            SELECT m.sms_option, p.name, p.dial_plan, p.allow_mwi, p.allow_sms, d.country_code, s.settings
            FROM mailbox m JOIN mailbox_policy p ON p.name = m.policy JOIN dial_plan d ON d.name = m.dial_plan
            LEFT JOIN mailbox_sms s ON s.mailbox = m.identity WHERE m.identity = ?
            """, [identity]) else { return nil }
        let option = SMSNotificationOption(lenient: row[0] ?? "") ?? .none
        let policy = MailboxPolicy(name: row[1], dialPlan: row[2], allowMessageWaitingIndicator: row[3], allowSMSNotification: row[4])
        let settings = try (row[6] as String?).map(StoredJSON.settings)
        guard SMSNotificationDecision.decide(purpose, policy: policy, option: option, settings: settings).send,
              let settings, let number = settings.number, let carrier = settings.carrier, let locale = settings.locale else { return nil }
        let notBefore = settings.quietHours?.release(now, in: settings.zone) ?? now
        // Long transcripts are cut when sent (to the route's part limit); kept bounded here.
        let text = String(compose(settings, row[5], notBefore).prefix(2400))
        let record = SMSRecord(id: UUID().uuidString.lowercased(), mailbox: identity, purpose: purpose, subject: subject,
                               number: number, carrier: carrier, locale: locale, text: text, createdAt: now, notBefore: notBefore)
        try db.run("""
            INSERT INTO sms_outbox (id, mailbox, purpose, subject, number, carrier, locale, route, text, created_at, not_before, status,
                attempts, parts_sent, message_ids, last_error, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, 0, 0, '[]', NULL, ?)
            """, [record.id, identity, purpose.rawValue, subject, number, carrier, locale, text, now.timeIntervalSince1970,
                  notBefore.timeIntervalSince1970, SMSStatus.queued.rawValue, now.timeIntervalSince1970])
        // A mailbox keeps the history of its newest 100 texts (pruned at one insert in 16).
        if db.lastInsertedRowID % 16 == 0 {
            try db.run("""
                DELETE FROM sms_outbox WHERE id IN (
                    SELECT id FROM sms_outbox WHERE mailbox = ? ORDER BY created_at DESC LIMIT -1 OFFSET 100)
                AND status NOT IN ('queued', 'sending')
                """, [identity])
        }
        return record
    }

    /// A deposit's text, in the deposit's transaction (see `deposit`).
    static func queueVoiceMailSMS(_ db: Database, _ message: VoiceMessage, mailbox identity: String, now: Date) throws -> SMSRecord? {
        try queueSMS(db, .voiceMail, mailbox: identity, subject: message.id, now: now) { settings, country, sendAt in
            SMSComposer.voiceMail(message, countryCode: country, locale: settings.locale, zone: settings.zone, now: sendAt)
        }
    }

    // MARK: Missed calls

    public func recordMissedCall(_ report: MissedCallReport, id: String, at now: Date) async throws -> MissedCall {
        try DirectoryValidation.check(report)
        return try await write { db in
            let identity: String
            if let mailbox = report.mailbox {
                guard try db.row("SELECT 1 FROM mailbox WHERE identity = ?", [mailbox]) != nil else {
                    throw DirectoryError.notFound("mailbox", mailbox, field: "mailbox")
                }
                identity = mailbox
            } else {
                let plan = report.dialPlan ?? "", ext = report.extension ?? ""
                _ = try Self.dialPlan(db, plan, field: "dialPlan")
                guard let found = try db.string("SELECT identity FROM mailbox WHERE dial_plan = ? AND extension = ?", [plan, ext]) else {
                    throw DirectoryError(.notFound, field: "extension", "no mailbox has extension \(ext) in dial plan \(plan)")
                }
                identity = found
            }
            let at = report.at ?? now
            let sms = try Self.queueSMS(db, .missedCall, mailbox: identity, subject: id, now: now) { settings, country, sendAt in
                SMSComposer.missedCall(from: report.from, at: at, countryCode: country, locale: settings.locale, zone: settings.zone,
                                       now: sendAt)
            }
            try db.run("INSERT INTO missed_call (id, mailbox, caller, at, sms) VALUES (?, ?, ?, ?, ?)",
                       [id, identity, report.from, at.timeIntervalSince1970, sms?.id])
            if db.lastInsertedRowID % 16 == 0 {
                try db.run("""
                    DELETE FROM missed_call WHERE id IN (
                        SELECT id FROM missed_call WHERE mailbox = ? ORDER BY at DESC LIMIT -1 OFFSET 200)
                    """, [identity])
            }
            return MissedCall(id: id, mailbox: identity, from: report.from, at: at, sms: sms?.id)
        }
    }

    public func missedCalls(mailbox identity: String, limit: Int) async throws -> [MissedCall] {
        try await read { db in
            _ = try Self.mailbox(db, identity)
            return try db.rows("SELECT * FROM missed_call WHERE mailbox = ? ORDER BY at DESC, id LIMIT ?", [identity, limit]).map { row in
                MissedCall(id: row["id"], mailbox: row["mailbox"], from: row["caller"], at: Date(timeIntervalSince1970: row["at"]),
                           sms: row["sms"])
            }
        }
    }

    // MARK: Outbox

    public func claimDueSMS(now: Date, limit: Int) async throws -> [SMSRecord] {
        try await write { db in
            let due = try db.rows("""
                SELECT o.*, v.read AS message_read, v.id AS message_id, m.new_count AS mailbox_new FROM sms_outbox o
                LEFT JOIN voice_message v ON o.purpose = 'voiceMail' AND v.mailbox = o.mailbox AND v.id = o.subject
                LEFT JOIN mailbox m ON o.purpose = 'voiceMail' AND o.subject LIKE 'state:%' AND m.identity = o.mailbox
                WHERE o.status = 'queued' AND o.not_before <= ? ORDER BY o.not_before LIMIT ?
                """, [now.timeIntervalSince1970, limit])
            var claimed: [SMSRecord] = []
            for row in due {
                var record = SMSRecord(row: row)
                // A text for published counts (an externally-fed mailbox) is for the state, not a message:
                // it is cancelled once nothing new waits.
                if let waiting = row["mailbox_new"] as Int? {
                    if waiting == 0 {
                        record.status = .cancelled
                        record.lastError = "the new voice messages were heard before the text could be sent"
                    } else {
                        record.status = .sending
                    }
                } else if record.purpose == .voiceMail, (row["message_id"] as String?) == nil || (row["message_read"] as Bool?) == true {
                    record.status = .cancelled
                    record.lastError = (row["message_id"] as String?) == nil
                        ? "the voice message was deleted before its text could be sent"
                        : "the voice message was heard before its text could be sent"
                } else {
                    record.status = .sending
                }
                record.updatedAt = now
                try db.run("UPDATE sms_outbox SET status = ?, last_error = ?, updated_at = ? WHERE id = ?",
                           [record.status.rawValue, record.lastError, now.timeIntervalSince1970, record.id])
                if record.status == .sending { claimed.append(record) }
            }
            return claimed
        }
    }

    public func nextSMSDue() async throws -> Date? {
        try await read { db in
            try Double.fetchOne(db.cachedStatement(sql: "SELECT min(not_before) FROM sms_outbox WHERE status = 'queued'"))
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    public func finishSMS(_ records: [SMSRecord]) async throws {
        guard !records.isEmpty else { return }
        try await write { db in
            for record in records {
                try db.run("""
                    UPDATE sms_outbox SET status = ?, attempts = ?, parts_sent = ?, message_ids = ?, last_error = ?, not_before = ?,
                        route = ?, updated_at = ? WHERE id = ?
                    """, [record.status.rawValue, record.attempts, record.partsSent, try StoredJSON.text(record.messageIDs),
                          record.lastError, record.notBefore.timeIntervalSince1970, record.route, record.updatedAt.timeIntervalSince1970,
                          record.id])
                if let route = record.route {
                    for id in record.messageIDs where !id.isEmpty {
                        try db.run("INSERT OR IGNORE INTO sms_message_id (route, message_id, sms) VALUES (?, ?, ?)", [route, id, record.id])
                    }
                }
                switch record.status {
                case .failed, .unconfirmed:
                    let what = record.purpose == .voiceMail ? "voice-mail text" : "missed-call text"
                    try self.log(db, "sms.\(record.status.rawValue)", record.mailbox,
                                 "\(what) to \(PhoneNumber.masked(record.number)) \(record.status == .failed ? "failed" : "unconfirmed") after \(record.attempts) attempt(s) via \(record.route ?? "no route"): \(record.lastError ?? "")",
                                 level: record.status == .failed ? .error : .warning)
                default: break
                }
            }
        }
    }

    public func recordSMSReceipt(route: String, messageID: String, delivered: Bool, detail: String, at now: Date) async throws -> Bool {
        try await write { db in
            guard let id = try db.string("SELECT sms FROM sms_message_id WHERE route = ? AND message_id = ?", [route, messageID]) else {
                return false
            }
            if delivered {
                try db.run("UPDATE sms_outbox SET status = 'delivered', updated_at = ? WHERE id = ? AND status IN ('sent', 'sending')",
                           [now.timeIntervalSince1970, id])
            } else {
                try db.run("""
                    UPDATE sms_outbox SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ? AND status IN ('sent', 'sending', 'delivered')
                    """, ["the operator reported it undelivered (\(detail))", now.timeIntervalSince1970, id])
                if let mailbox = try db.string("SELECT mailbox FROM sms_outbox WHERE id = ?", [id]) {
                    try self.log(db, "sms.undelivered", mailbox, "text \(id) was not delivered to the phone: \(detail)", level: .warning)
                }
            }
            return true
        }
    }

    public func recoverSMS(at now: Date) async throws -> Int {
        try await write { db in
            let rows = try db.rows("""
                UPDATE sms_outbox SET status = 'unconfirmed', updated_at = ?,
                    last_error = 'mwid stopped while sending it; not sent again (it may or may not have reached the phone)'
                WHERE status = 'sending' RETURNING id, mailbox, number
                """, [now.timeIntervalSince1970])
            for row in rows {
                try self.log(db, "sms.unconfirmed", row["mailbox"],
                             "text \(row["id"] as String? ?? "") to \(PhoneNumber.masked(row["number"] ?? "")) was being sent when mwid stopped; not sent again",
                             level: .warning)
            }
            return rows.count
        }
    }

    public func smsHistory(mailbox identity: String, limit: Int) async throws -> [SMSRecord] {
        try await read { db in
            _ = try Self.mailbox(db, identity)
            return try db.rows("SELECT * FROM sms_outbox WHERE mailbox = ? ORDER BY created_at DESC, id LIMIT ?", [identity, limit])
                .map(SMSRecord.init(row:))
        }
    }

    public func sms(id: String) async throws -> SMSRecord {
        try await read { db in
            guard let row = try db.row("SELECT * FROM sms_outbox WHERE id = ?", [id]) else { throw DirectoryError.notFound("text", id) }
            return SMSRecord(row: row)
        }
    }
}

/// The JSON columns (route definitions with their secrets, mailbox settings, id lists).
enum StoredJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.userInfo[.includeSecrets] = true
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()

    static func text(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func route(_ text: String) throws -> SMSRoute { try decoder.decode(SMSRoute.self, from: Data(text.utf8)) }
    static func settings(_ text: String) throws -> SMSSettings { try decoder.decode(SMSSettings.self, from: Data(text.utf8)) }
}

extension SMSCarrier {
    init(row: Row) {
        self.init(locale: row["locale"], name: row["name"], route: row["route"], emailDomain: row["email_domain"])
    }
}

extension SMSRecord {
    init(row: Row) {
        let ids: String = row["message_ids"] ?? "[]"
        self.init(id: row["id"], mailbox: row["mailbox"], purpose: SMSPurpose(rawValue: row["purpose"] ?? "") ?? .voiceMail,
                  subject: row["subject"], number: row["number"], carrier: row["carrier"], locale: row["locale"], route: row["route"],
                  text: row["text"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
                  notBefore: Date(timeIntervalSince1970: row["not_before"]),
                  status: SMSStatus(rawValue: row["status"] ?? "") ?? .failed, attempts: row["attempts"], partsSent: row["parts_sent"],
                  messageIDs: (try? StoredJSON.decoder.decode([String].self, from: Data(ids.utf8))) ?? [],
                  lastError: row["last_error"], updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
    }
}
