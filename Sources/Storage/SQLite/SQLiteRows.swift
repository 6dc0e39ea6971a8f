import Foundation
import GRDB
import UnifiedMessaging

/// Rows to domain values and back. Enum columns hold the values' raw names; a value the
/// code does not know (a newer node wrote it) reads as the default rather than crashing.
extension DialPlan {
    init(row: Row) {
        self.init(name: row["name"], numberOfDigitsInExtension: row["number_of_digits"],
                  uriType: URIType(lenient: row["uri_type"] ?? "") ?? .telExtn,
                  voipSecurity: VoIPSecurity(lenient: row["voip_security"] ?? "") ?? .unsecured,
                  countryOrRegionCode: row["country_code"],
                  unsolicitedNotifyWhenSubscribed: row["unsolicited_when_subscribed"] ?? true)
    }

    var arguments: StatementArguments {
        [name, numberOfDigitsInExtension, uriType.rawValue, voipSecurity.rawValue, countryOrRegionCode,
         unsolicitedNotifyWhenSubscribed]
    }
}

extension IPGateway {
    init(row: Row, dialPlans: [String]) {
        self.init(name: row["name"], address: row["address"], port: row["port"],
                  transport: GatewayTransport(lenient: row["transport"] ?? "") ?? .auto,
                  dialPlans: dialPlans, status: GatewayStatus(lenient: row["status"] ?? "") ?? .disabled,
                  messageWaitingIndicatorAllowed: row["mwi_allowed"], priority: row["priority"],
                  username: row["username"], password: row["password"])
    }

    var arguments: StatementArguments {
        [name, address, port, transport.rawValue, status.rawValue, messageWaitingIndicatorAllowed, priority,
         username, password]
    }
}

extension MailboxPolicy {
    init(row: Row) {
        self.init(name: row["name"], dialPlan: row["dial_plan"], allowMessageWaitingIndicator: row["allow_mwi"],
                  allowSMSNotification: row["allow_sms"])
    }

    var arguments: StatementArguments {
        [name, dialPlan, allowMessageWaitingIndicator, allowSMSNotification]
    }
}

extension UMMailbox {
    init(row: Row) {
        self.init(identity: row["identity"], extension: row["extension"], dialPlan: row["dial_plan"],
                  policy: row["policy"], sipResourceIdentifier: row["sip_resource_identifier"],
                  umSMSNotificationOption: SMSNotificationOption(lenient: row["sms_option"] ?? "") ?? .none,
                  sipPassword: row["sip_password"], mwiSource: MWISource(lenient: row["mwi_source"] ?? "") ?? .messages)
    }

    var arguments: StatementArguments {
        [identity, `extension`, dialPlan, policy, sipResourceIdentifier, umSMSNotificationOption.rawValue, sipPassword, mwiSource.rawValue]
    }
}

extension MessageWaitingState {
    init(row: Row) {
        self.init(new: row["new_count"], old: row["old_count"], urgentNew: row["urgent_new_count"],
                  urgentOld: row["urgent_old_count"])
    }
}

extension VoiceMessage {
    init(row: Row) {
        self.init(id: row["id"], from: row["caller"], receivedAt: Date(timeIntervalSince1970: row["received_at"]),
                  durationSeconds: row["duration_seconds"], urgent: row["urgent"], protected: row["protected"],
                  read: row["read"], transcript: row["transcript"])
    }
}

extension DirectoryEvent {
    init(row: Row) {
        self.init(id: row["id"], at: Date(timeIntervalSince1970: row["at"]),
                  level: Level(rawValue: row["level"] ?? "") ?? .info, kind: row["kind"], subject: row["subject"],
                  message: row["message"])
    }
}

/// The row a statement stands on, read by column position straight from SQLite, for the
/// hot look-ups. GRDB's `Row` indexes the statement's lowercased column names each time
/// a statement runs: 14 % of a delivery context's look-up in the profile, for columns
/// these readers take by position anyway. Valid only inside `Database.each`'s body.
struct StatementRow: DatabaseValueConvertible, StatementColumnConvertible {
    private let statement: SQLiteStatement

    init(sqliteStatement: SQLiteStatement, index: CInt) { statement = sqliteStatement }

    // (Never bound as an argument, never read from a `Row`: only what the cursor needs.)
    var databaseValue: DatabaseValue { .null }
    static func fromDatabaseValue(_ dbValue: DatabaseValue) -> StatementRow? { nil }

    /// The value in column `index`, nil when it is NULL.
    subscript<Value: StatementColumnConvertible>(_ index: Int) -> Value? {
        Value.fromStatement(statement, atUncheckedIndex: CInt(index))
    }

    /// The value in a column that holds one (NOT NULL): a NULL there is a corrupt or
    /// foreign database, refused by name rather than crashing.
    func required<Value: StatementColumnConvertible>(_ index: Int, _ column: String) throws -> Value {
        guard let value: Value = self[index] else { throw StorageFailure("column \(column) is NULL where a value is required") }
        return value
    }
}

/// Statements through GRDB's per-connection cache: each SQL text is prepared (and its
/// authorizer run) once per connection instead of once per call.
extension Database {
    func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    func row(_ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func strings(_ sql: String, _ arguments: StatementArguments = []) throws -> [String] {
        try String.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    func string(_ sql: String, _ arguments: StatementArguments = []) throws -> String? {
        try String.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func run(_ sql: String, _ arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// Each row of the statement, read by position (`StatementRow`). The statement's first
    /// column must never be NULL (the cursor reads it to tell that a row is there).
    func each(_ sql: String, _ arguments: StatementArguments, _ body: (StatementRow) throws -> Void) throws {
        let rows = try StatementRow.fetchCursor(cachedStatement(sql: sql), arguments: arguments)
        while let row = try rows.next() { try body(row) }
    }

    /// What `read` makes of the statement's first row, nil without one (the rest of the
    /// statement still runs to its end, as for an `UPDATE … RETURNING`).
    func first<T>(_ sql: String, _ arguments: StatementArguments, _ read: (StatementRow) throws -> T) throws -> T? {
        var value: T?
        try each(sql, arguments) { row in if value == nil { value = try read(row) } }
        return value
    }
}

extension MWISubscription {
    /// The route set is stored one URI per line (a URI never holds a line break).
    init(row: Row) {
        let routes: String = row["route_set"] ?? ""
        self.init(id: row["id"], mailbox: row["mailbox"], callID: row["call_id"], remoteTag: row["remote_tag"],
                  localURI: row["local_uri"], remoteURI: row["remote_uri"], remoteTarget: row["remote_target"],
                  routeSet: routes.split(separator: "\n").map(String.init), transport: row["transport"],
                  source: row["source"], eventID: row["event_id"], remoteCSeq: row["remote_cseq"],
                  localCSeqReserved: row["local_cseq_reserved"], expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
                  createdAt: Date(timeIntervalSince1970: row["created_at"]), subscriber: row["subscriber"])
    }

    var arguments: StatementArguments {
        [mailbox, id, callID, remoteTag, localURI, remoteURI, remoteTarget, routeSet.joined(separator: "\n"), transport,
         source, eventID, remoteCSeq, localCSeqReserved, expiresAt.timeIntervalSince1970, createdAt.timeIntervalSince1970,
         subscriber]
    }
}
