public import Foundation
import GRDB
import UnifiedMessaging

/// Mailboxes fed by another voicemail system: their publications (RFC 3903 PUBLISH of
/// `message-summary`, or `PUT mailboxes/{id}/mwi`) and the counts they make.
///
/// A mailbox may have several live publications (a voicemail cluster whose nodes each
/// publish): its counts are those of the newest. When the last one expires or is removed,
/// nothing is waiting.
extension SQLiteStorage {
    public func publish(_ publication: MWIPublication, to address: MailboxAddress, publisher: String,
                        at now: Date, visible: (@Sendable (MWIPublished) -> Void)?) async throws -> MWIPublished {
        if let state = publication.state { try DirectoryValidation.check(state) }
        return try await write(visible: visible) { db in
            let target = try Self.publishedMailbox(db, address)
            let (identity, before) = (target.identity, target.state)
            guard target.source == .external else {
                throw DirectoryError(.conflict, field: "mwiSource",
                                     "mailbox \(identity) takes its counts from its own voice messages (mwiSource Messages); "
                                         + "set mwiSource External to publish them")
            }
            let stamp = now.timeIntervalSince1970
            var etag: String?
            var expiresAt: Date?
            switch publication {
            case .initial(let state, let lifetime):
                let tag = Self.makeETag()
                let end = lifetime.map { now.addingTimeInterval($0) }
                try Self.insertPublication(db, tag, identity, state, publisher: publisher, at: stamp, expiresAt: end)
                (etag, expiresAt) = (tag, end)
            case .put(let state):
                // One lasting publication per mailbox, replaced each time.
                let tag = "api-" + identity
                try db.run("DELETE FROM mwi_publication WHERE mailbox = ? AND etag = ?", [identity, tag])
                try Self.insertPublication(db, tag, identity, state, publisher: publisher, at: stamp, expiresAt: nil)
                etag = tag
            case .refresh(let old, let lifetime), .modify(let old, _, let lifetime):
                // One statement finds the live publication and changes it (RFC 3903 §4.1:
                // a new entity tag for each accepted PUBLISH); none changed is a 412.
                let tag = Self.makeETag()
                let end = now.addingTimeInterval(lifetime)
                let changed: Bool?
                if let state = publication.state {
                    changed = try db.first("""
                        UPDATE mwi_publication SET etag = ?, new_count = ?, old_count = ?, urgent_new_count = ?, urgent_old_count = ?,
                            publisher = ?, updated_at = ?, expires_at = ?
                        WHERE mailbox = ? AND etag = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING 1
                        """, [tag, state.new, state.old, state.urgentNew, state.urgentOld, publisher, stamp, end.timeIntervalSince1970,
                              identity, old, stamp]) { _ in true }
                } else {
                    // A refresh keeps its place among the mailbox's publications (its time).
                    changed = try db.first("""
                        UPDATE mwi_publication SET etag = ?, expires_at = ?
                        WHERE mailbox = ? AND etag = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING 1
                        """, [tag, end.timeIntervalSince1970, identity, old, stamp]) { _ in true }
                }
                guard changed != nil else { throw Self.noLivePublication(old, identity) }
                (etag, expiresAt) = (tag, end)
            case .remove(let old):
                let removed = try db.first("""
                    DELETE FROM mwi_publication WHERE mailbox = ? AND etag = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING 1
                    """, [identity, old, stamp]) { _ in true }
                guard removed != nil else { throw Self.noLivePublication(old, identity) }
            }
            let state = try Self.store(try Self.composite(db, identity, at: stamp), identity, db, before: before)
            let sms = target.smsOption == SMSNotificationOption.none ? nil
                : try Self.queuePublishedSMS(db, identity, state: state, before: before,
                                             version: target.version + (state != before ? 1 : 0), now: now)
            return MWIPublished(etag: etag, expiresAt: expiresAt,
                                change: MWIStateChange(mailbox: identity, state: state, previousState: before, sms: sms))
        }
    }

    public func expirePublications(at now: Date) async throws -> [MWIStateChange] {
        try await write { db in
            let stamp = now.timeIntervalSince1970
            let mailboxes = try db.strings("""
                SELECT DISTINCT mailbox FROM mwi_publication WHERE expires_at IS NOT NULL AND expires_at <= ?
                """, [stamp])
            guard !mailboxes.isEmpty else { return [] }
            try db.run("DELETE FROM mwi_publication WHERE expires_at IS NOT NULL AND expires_at <= ?", [stamp])
            var changes: [MWIStateChange] = []
            for identity in mailboxes {
                let before = try Self.state(db, identity)
                let state = try Self.store(try Self.composite(db, identity, at: stamp), identity, db, before: before)
                if state != before {
                    try self.log(db, "mwi.publication.expired", identity,
                                 "a publication of mailbox \(identity) expired without refresh: now \(state)")
                }
                changes.append(MWIStateChange(mailbox: identity, state: state, previousState: before))
            }
            return changes
        }
    }

    public func nextPublicationExpiry() async throws -> Date? {
        try await read { db in
            try Double.fetchOne(db.cachedStatement(sql: "SELECT min(expires_at) FROM mwi_publication WHERE expires_at IS NOT NULL"))
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    public func publications(mailbox identity: String, at now: Date) async throws -> [MWIPublicationRecord] {
        try await read { db in
            _ = try Self.state(db, identity)
            return try db.rows("""
                SELECT etag, publisher, new_count, old_count, urgent_new_count, urgent_old_count, updated_at, expires_at
                FROM mwi_publication WHERE mailbox = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY updated_at DESC, seq DESC
                """, [identity, now.timeIntervalSince1970]).map { row in
                MWIPublicationRecord(etag: row["etag"], publisher: row["publisher"], state: MessageWaitingState(row: row),
                                     updatedAt: Date(timeIntervalSince1970: row["updated_at"]),
                                     expiresAt: (row["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    /// A mailbox changing where its counts come from: back to its messages, the counts are
    /// those of its messages again and its publications are forgotten; to External, the
    /// counts stay as they are until the first publication.
    static func switchSource(_ db: Database, _ identity: String, to source: MWISource) throws {
        guard source == .messages else { return }
        try db.run("DELETE FROM mwi_publication WHERE mailbox = ?", [identity])
        let before = try state(db, identity)
        let messages = try db.rows("SELECT * FROM voice_message WHERE mailbox = ?", [identity]).map(VoiceMessage.init(row:))
        _ = try store(MessageWaitingState(messages: messages), identity, db, before: before)
    }

    /// The one mailbox an address names, with what a publication needs of it, in one
    /// statement (a SIP address resolved in the write that uses it saves a read).
    private static func publishedMailbox(_ db: Database, _ address: MailboxAddress) throws
        -> (identity: String, state: MessageWaitingState, source: MWISource, smsOption: SMSNotificationOption, version: Int64) {
        typealias Target = (identity: String, state: MessageWaitingState, source: MWISource, smsOption: SMSNotificationOption,
                            version: Int64)
        let columns = "SELECT m.identity, m.new_count, m.old_count, m.urgent_new_count, m.urgent_old_count, m.mwi_source, m.sms_option, m.state_version FROM mailbox m"
        var targets: [Target] = []
        let read = { (row: StatementRow) throws in
            targets.append((try row.required(0, "mailbox.identity"),
                            MessageWaitingState(new: row[1] ?? 0, old: row[2] ?? 0, urgentNew: row[3] ?? 0, urgentOld: row[4] ?? 0),
                            MWISource(lenient: row[5] ?? "") ?? .messages, SMSNotificationOption(lenient: row[6] ?? "") ?? .none,
                            row[7] ?? 0))
        }
        switch address {
        case .identity(let identity):
            try db.each(columns + " WHERE m.identity = ?", [identity], read)
            guard let target = targets.first else { throw DirectoryError.notFound("mailbox", identity) }
            return target
        case .sip(let ext, let identifiers):
            guard let (filter, arguments) = addressFilter(extension: ext, resourceIdentifiers: identifiers) else {
                throw DirectoryError(.notFound, field: "address", "the address names no mailbox")
            }
            try db.each(columns + " WHERE " + filter + " LIMIT 2", arguments, read)
            guard let target = targets.first else { throw DirectoryError(.notFound, field: "address", "the address names no mailbox") }
            guard targets.count == 1 else { throw DirectoryError(.conflict, field: "address", "the address names several mailboxes") }
            return target
        }
    }

    /// The mailbox's counts and where they come from, in one read.
    static func counts(_ db: Database, _ identity: String) throws -> (state: MessageWaitingState, source: MWISource) {
        guard let row = try db.row("""
            SELECT new_count, old_count, urgent_new_count, urgent_old_count, mwi_source FROM mailbox WHERE identity = ?
            """, [identity]) else {
            throw DirectoryError.notFound("mailbox", identity)
        }
        return (MessageWaitingState(row: row), MWISource(lenient: row["mwi_source"] ?? "") ?? .messages)
    }

    /// The refusal of a deposit to a mailbox whose counts another system publishes.
    static func externallyFed(_ identity: String) -> DirectoryError {
        DirectoryError(.conflict, field: "mwiSource",
                       "mailbox \(identity) is fed by another voicemail system (mwiSource External): "
                           + "its counts come from PUBLISH or PUT mwi, not from deposits")
    }

    // MARK: Parts

    private static func makeETag() -> String { RandomIdentifier.uuid() }

    private static func insertPublication(_ db: Database, _ etag: String, _ identity: String, _ state: MessageWaitingState,
                                          publisher: String, at stamp: Double, expiresAt: Date?) throws {
        try db.run("""
            INSERT INTO mwi_publication (etag, mailbox, seq, new_count, old_count, urgent_new_count, urgent_old_count, publisher,
                updated_at, expires_at)
                VALUES (?, ?, coalesce((SELECT max(seq) FROM mwi_publication WHERE mailbox = ?), 0) + 1, ?, ?, ?, ?, ?, ?, ?)
            """, [etag, identity, identity, state.new, state.old, state.urgentNew, state.urgentOld, publisher, stamp,
                  expiresAt?.timeIntervalSince1970])
    }

    /// The refusal of an entity tag that names no live publication of the mailbox (unknown,
    /// expired or another mailbox's; RFC 3903 §6: 412).
    private static func noLivePublication(_ etag: String, _ identity: String) -> DirectoryError {
        DirectoryError(.notFound, field: "etag", "no live publication of mailbox \(identity) has entity tag \(etag)")
    }

    /// The newest live publication's counts; nothing waiting without one.
    private static func composite(_ db: Database, _ identity: String, at stamp: Double) throws -> MessageWaitingState {
        try db.first("""
            SELECT new_count, old_count, urgent_new_count, urgent_old_count FROM mwi_publication
            WHERE mailbox = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY updated_at DESC, seq DESC LIMIT 1
            """, [identity, stamp]) { row in
            MessageWaitingState(new: try row.required(0, "new_count"), old: try row.required(1, "old_count"),
                                urgentNew: try row.required(2, "urgent_new_count"), urgentOld: try row.required(3, "urgent_old_count"))
        } ?? MessageWaitingState()
    }

    /// More new messages than before: the user's text, saying how many wait.
    private static func queuePublishedSMS(_ db: Database, _ identity: String, state: MessageWaitingState, before: MessageWaitingState,
                                          version: Int64, now: Date) throws -> SMSRecord? {
        guard state.new > before.new else { return nil }
        return try queueSMS(db, .voiceMail, mailbox: identity, subject: "state:\(version)", now: now) { settings, _, sendAt in
            SMSComposer.newVoiceMail(waiting: state.new, urgent: state.urgentNew, at: now, locale: settings.locale, zone: settings.zone,
                                     now: sendAt)
        }
    }
}

extension MWIPublication {
    /// The counts it carries, if it carries any.
    var state: MessageWaitingState? {
        switch self {
        case .initial(let state, _), .modify(_, let state, _), .put(let state): state
        case .refresh, .remove: nil
        }
    }
}
