public import Foundation
public import UnifiedMessaging

/// The storage seam: everything mwid keeps durably. Every write is one transaction that
/// validates with `DirectoryValidation` against what the same transaction reads, so that
/// a refused write changes nothing and several mwid nodes sharing one database see the
/// same rules. Keys are natural (names, identities) or UUIDs made by the caller: nothing
/// depends on a process-local counter.
///
/// Refusals are `DirectoryError`s; anything else thrown is a storage failure.
public protocol Storage: Sendable {
    // MARK: Dial plans
    func dialPlans() async throws -> [DialPlan]
    func dialPlan(named name: String) async throws -> DialPlan
    func create(_ plan: DialPlan) async throws -> DialPlan
    /// Reads the dial plan, applies `change` and writes it back if it is still valid.
    func updateDialPlan(named name: String, _ change: @escaping @Sendable (inout DialPlan) throws -> Void) async throws -> DialPlan
    func removeDialPlan(named name: String) async throws

    // MARK: IP gateways
    func gateways() async throws -> [IPGateway]
    func gateway(named name: String) async throws -> IPGateway
    func create(_ gateway: IPGateway) async throws -> IPGateway
    func updateGateway(named name: String, _ change: @escaping @Sendable (inout IPGateway) throws -> Void) async throws -> IPGateway
    func removeGateway(named name: String) async throws

    // MARK: Mailbox policies
    func policies() async throws -> [MailboxPolicy]
    func policy(named name: String) async throws -> MailboxPolicy
    func create(_ policy: MailboxPolicy) async throws -> MailboxPolicy
    func updatePolicy(named name: String, _ change: @escaping @Sendable (inout MailboxPolicy) throws -> Void) async throws -> MailboxPolicy
    func removePolicy(named name: String) async throws

    // MARK: Mailboxes
    func mailboxes(_ query: MailboxQuery) async throws -> [UMMailbox]
    func mailboxCount() async throws -> Int
    func mailbox(identity: String) async throws -> UMMailbox
    func create(_ mailbox: UMMailbox) async throws -> UMMailbox
    func updateMailbox(identity: String, _ change: @escaping @Sendable (inout UMMailbox) throws -> Void) async throws -> UMMailbox
    func removeMailbox(identity: String) async throws
    /// The mailbox's MWI state as committed with its last message change.
    func messageWaitingState(mailbox identity: String) async throws -> MessageWaitingState
    /// The mailbox, its policy and the gateways of its dial plan: what the MWI policy
    /// decision needs, read consistently.
    func deliveryContext(mailbox identity: String) async throws -> DeliveryContext
    /// The same for many mailboxes in one read; a mailbox that does not exist is left out.
    /// Run on the caller's executor (`nonisolated(nonsending)`): the dispatcher's hot path
    /// reads without leaving its actor, and a backend that reads without waiting (SQLite)
    /// costs it no thread hop.
    nonisolated(nonsending) func deliveryContexts(mailboxes identities: [String]) async throws -> [String: DeliveryContext]

    // MARK: Voice messages (each change commits the mailbox's new MWI state with it)
    func deposit(_ deposit: VoiceMessageDeposit, mailbox identity: String, id: String, at now: Date) async throws -> MailboxChange
    /// The same without a task (the API's deposit): `visible` is called on any thread as
    /// soon as the deposit can be read by others (the lamp may be told: a crash of mwid
    /// would not lose it, though a power cut still could), `completion` once it is
    /// durable, or refused.
    func deposit(_ deposit: VoiceMessageDeposit, mailbox identity: String, id: String, at now: Date,
                 visible: (@Sendable (MailboxChange) -> Void)?,
                 completion: @escaping @Sendable (Result<MailboxChange, any Error>) -> Void)
    func messages(mailbox identity: String) async throws -> [VoiceMessage]
    func message(id: String, mailbox identity: String) async throws -> VoiceMessage
    /// Marks a message read or unread, urgent or not. `visible`, when given, is called as
    /// soon as the change can be read by others (the lamp may be told), before it is
    /// durable and the call returns (as for a deposit).
    func changeMessage(id: String, mailbox identity: String, _ change: VoiceMessageChange,
                       visible: (@Sendable (MailboxChange) -> Void)?) async throws -> MailboxChange
    /// Deletes a message; `visible` as for `changeMessage`.
    func removeMessage(id: String, mailbox identity: String,
                       visible: (@Sendable (MailboxChange) -> Void)?) async throws -> MailboxChange

    // MARK: MWI delivery
    /// Mailboxes whose committed state is newer than the one last acknowledged.
    func pendingDeliveries(limit: Int) async throws -> [String]
    /// Keeps what deliveries did, in one write: every attempt (the newest 50 per mailbox are
    /// kept, give or take the few since the last pruning) and the state each mailbox had acknowledged — an older version than the one
    /// already recorded changes nothing. Mailboxes removed meanwhile are skipped.
    func recordDeliveries(_ outcomes: [DeliveryOutcome]) async throws
    /// Makes the state of every mailbox in `scope` pending again (a forced refresh, or a
    /// policy or gateway switch): durable, so a restart resumes it. Returns their identities.
    func markForRefresh(_ scope: RefreshScope) async throws -> [String]
    /// The newest attempts first.
    func attempts(mailbox identity: String, limit: Int) async throws -> [DeliveryAttempt]

    // MARK: Subscriptions (RFC 6665)
    /// The mailboxes a SUBSCRIBE can name — those whose extension is `extension` (in any
    /// dial plan) or whose `sipResourceIdentifier` is one of `resourceIdentifiers` — with
    /// their delivery contexts, in one read. Not `nonisolated(nonsending)`: run on the
    /// notifier's actor, the read held up the other SUBSCRIBEs (measured: 2716–2965 →
    /// 2309–2440 SUBSCRIBE/s).
    func deliveryContexts(extension: String?, resourceIdentifiers: [String]) async throws -> [DeliveryContext]
    /// Every stored subscription (to re-arm them after a restart).
    func subscriptions() async throws -> [MWISubscription]
    /// Stores a new subscription or the new state of one (refresh, CSeq reservation).
    /// Refused with `notFound` when the mailbox no longer exists.
    func save(_ subscription: MWISubscription) async throws
    /// Forgets a subscription of `mailbox`; nothing happens when it is already gone.
    func removeSubscription(id: String, mailbox: String) async throws

    // MARK: Externally-fed mailboxes (SIP PUBLISH, RFC 3903; PUT mwi)
    /// Applies a publication to an `External` mailbox in one transaction: its counts become
    /// those of its newest live publication (none: nothing waiting), and a text is queued
    /// when more messages are new. `notFound` (field `etag`) for an unknown or expired
    /// entity tag; `conflict` (field `mwiSource`) for a mailbox fed by its own messages.
    /// A SIP address is resolved in the same transaction: `notFound` (field `address`)
    /// when it names no mailbox, `conflict` (field `address`) when it names several.
    /// `visible`, when given, is called as soon as the publication can be read by others,
    /// before it is durable and the call returns (as for a deposit).
    func publish(_ publication: MWIPublication, to mailbox: MailboxAddress, publisher: String, at now: Date,
                 visible: (@Sendable (MWIPublished) -> Void)?) async throws -> MWIPublished
    /// Forgets the publications that expired by `now`; the changes of the mailboxes they fed.
    func expirePublications(at now: Date) async throws -> [MWIStateChange]
    /// When the next publication expires, if any will.
    func nextPublicationExpiry() async throws -> Date?
    /// The mailbox's live publications, newest first (what `mwi status` shows).
    func publications(mailbox identity: String, at now: Date) async throws -> [MWIPublicationRecord]

    // MARK: SMS routes and the carrier catalog
    func smsRoutes() async throws -> [SMSRoute]
    func smsRoute(named name: String) async throws -> SMSRoute
    func create(_ route: SMSRoute) async throws -> SMSRoute
    func updateSMSRoute(named name: String, _ change: @escaping @Sendable (inout SMSRoute) throws -> Void) async throws -> SMSRoute
    /// Refused with `inUse` while a carrier names it.
    func removeSMSRoute(named name: String) async throws
    /// The carriers, of one locale or all, by locale then name.
    func smsCarriers(locale: String?) async throws -> [SMSCarrier]
    func smsCarrier(locale: String, name: String) async throws -> SMSCarrier
    func create(_ carrier: SMSCarrier) async throws -> SMSCarrier
    func updateSMSCarrier(locale: String, name: String, _ change: @escaping @Sendable (inout SMSCarrier) throws -> Void) async throws -> SMSCarrier
    func removeSMSCarrier(locale: String, name: String) async throws
    /// The catalog file read at start: its routes and carriers are created or replaced in
    /// one transaction (objects it does not name are left as they are).
    func applySMSCatalog(routes: [SMSRoute], carriers: [SMSCarrier]) async throws

    // MARK: A mailbox's text messaging
    /// The mailbox's settings (empty when it never set anything up); `notFound` without the mailbox.
    func smsSettings(mailbox identity: String) async throws -> SMSSettings
    /// Reads the settings, applies `change` and stores the result, in one transaction (a
    /// throw changes nothing). Returns the settings stored and what `change` returned.
    func updateSMSSettings<T: Sendable>(mailbox identity: String,
                                        _ change: @escaping @Sendable (inout SMSSettings) throws -> T) async throws -> (SMSSettings, T)
    /// Records a missed call and, when the mailbox is to be told of it, queues its text,
    /// in one transaction.
    func recordMissedCall(_ report: MissedCallReport, id: String, at now: Date) async throws -> MissedCall
    /// The newest first.
    func missedCalls(mailbox identity: String, limit: Int) async throws -> [MissedCall]

    // MARK: SMS outbox
    /// Takes up to `limit` queued texts due by `now` (marked `sending`, so that no other
    /// sender takes them). A voice-mail text whose message was heard or deleted meanwhile
    /// is cancelled instead.
    func claimDueSMS(now: Date, limit: Int) async throws -> [SMSRecord]
    /// When the next queued text is due, if any is queued.
    func nextSMSDue() async throws -> Date?
    /// Stores what sending did (status, attempts, parts and identifiers, next try).
    func finishSMS(_ records: [SMSRecord]) async throws
    /// A delivery receipt for the part the route's gateway named `messageID`; false when
    /// no text has that identifier.
    func recordSMSReceipt(route: String, messageID: String, delivered: Bool, detail: String, at now: Date) async throws -> Bool
    /// Texts left `sending` by a stop become `unconfirmed` (they are not sent again).
    /// Returns how many.
    func recoverSMS(at now: Date) async throws -> Int
    /// The mailbox's texts, newest first.
    func smsHistory(mailbox identity: String, limit: Int) async throws -> [SMSRecord]
    /// One text.
    func sms(id: String) async throws -> SMSRecord

    // MARK: Event log
    func events(_ query: EventQuery) async throws -> [DirectoryEvent]
    func log(_ level: DirectoryEvent.Level, kind: String, subject: String, message: String) async throws
}

/// What one delivery of a mailbox's state did: its attempts, and what was acknowledged.
public struct DeliveryOutcome: Sendable, Hashable {
    public var mailbox: String
    public var attempts: [DeliveryAttempt]
    public var acknowledged: AcknowledgedState?

    public init(mailbox: String, attempts: [DeliveryAttempt], acknowledged: AcknowledgedState? = nil) {
        self.mailbox = mailbox
        self.attempts = attempts
        self.acknowledged = acknowledged
    }
}

/// The directory objects a delivery needs besides its mailbox, as of one directory version.
struct DirectorySnapshot: Sendable {
    let version: Int64
    let dialPlans: [String: DialPlan]
    let policies: [String: MailboxPolicy]
    /// Per dial plan, the gateways serving it in priority order.
    private let serving: [String: [IPGateway]]

    init(version: Int64, dialPlans: [DialPlan], policies: [MailboxPolicy], gateways: [IPGateway]) {
        self.version = version
        self.dialPlans = Dictionary(dialPlans.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.policies = Dictionary(policies.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var serving: [String: [IPGateway]] = [:]
        for gateway in gateways {
            for plan in gateway.dialPlans { serving[plan, default: []].append(gateway) }
        }
        self.serving = serving
    }

    func gateways(serving dialPlan: String) -> [IPGateway] { serving[dialPlan] ?? [] }
}

/// Which mailboxes a refresh covers.
public enum RefreshScope: Sendable, Hashable {
    case mailbox(String)
    /// Several mailboxes by identity (the periodic refresh's batches); unknown ones are skipped.
    case mailboxes([String])
    /// Every mailbox of every dial plan the gateway serves.
    case gateway(String)
    case dialPlan(String)
    case policy(String)
    case all
}

/// One page of mailboxes, in identity order.
public struct MailboxQuery: Sendable, Hashable {
    /// Only identities after this one (keyset paging).
    public var after: String?
    public var limit: Int
    public var dialPlan: String?
    public var policy: String?
    public var `extension`: String?

    public init(after: String? = nil, limit: Int = 1000, dialPlan: String? = nil, policy: String? = nil,
                extension: String? = nil) {
        self.after = after
        self.limit = limit
        self.dialPlan = dialPlan
        self.policy = policy
        self.extension = `extension`
    }
}

/// A message change and the mailbox's MWI state committed with it.
public struct MailboxChange: Sendable, Hashable {
    public var message: VoiceMessage
    public var state: MessageWaitingState
    /// The state before the change: they differ when the lamp must move.
    public var previousState: MessageWaitingState
    /// The text queued for a deposit in the same transaction, if one was.
    public var sms: SMSRecord?

    public init(message: VoiceMessage, state: MessageWaitingState, previousState: MessageWaitingState, sms: SMSRecord? = nil) {
        self.message = message
        self.state = state
        self.previousState = previousState
        self.sms = sms
    }
}

/// A publication of a mailbox's counts by another voicemail system (RFC 3903).
public enum MWIPublication: Sendable, Hashable {
    /// A new publication (no entity tag yet); `lifetime` nil: until replaced (`PUT mwi`).
    case initial(MessageWaitingState, lifetime: TimeInterval?)
    /// The same state for `lifetime` more seconds.
    case refresh(etag: String, lifetime: TimeInterval)
    case modify(etag: String, MessageWaitingState, lifetime: TimeInterval)
    case remove(etag: String)
    /// `PUT mailboxes/{id}/mwi`: the mailbox's one lasting publication, replaced each time.
    case put(MessageWaitingState)
}

/// A mailbox's counts moved (or not) by something other than a voice message.
public struct MWIStateChange: Sendable, Hashable {
    public var mailbox: String
    public var state: MessageWaitingState
    public var previousState: MessageWaitingState
    /// The text queued with the change, if the user is to get one.
    public var sms: SMSRecord?

    public init(mailbox: String, state: MessageWaitingState, previousState: MessageWaitingState, sms: SMSRecord? = nil) {
        self.mailbox = mailbox
        self.state = state
        self.previousState = previousState
        self.sms = sms
    }
}

/// The mailbox a write is for: its identity, or what a SIP request names — an extension
/// (in any dial plan) and SIP resource identifiers — which must name exactly one.
public enum MailboxAddress: Sendable, Hashable {
    case identity(String)
    case sip(extension: String?, resourceIdentifiers: [String])
}

extension Storage {
    /// For a backend that can only wait: the deposit on a task of its own.
    public func deposit(_ deposit: VoiceMessageDeposit, mailbox identity: String, id: String, at now: Date,
                        visible: (@Sendable (MailboxChange) -> Void)?,
                        completion: @escaping @Sendable (Result<MailboxChange, any Error>) -> Void) {
        Task {
            do {
                let change = try await self.deposit(deposit, mailbox: identity, id: id, at: now)
                visible?(change)
                completion(.success(change))
            } catch {
                completion(.failure(error))
            }
        }
    }

    public func changeMessage(id: String, mailbox identity: String, _ change: VoiceMessageChange) async throws -> MailboxChange {
        try await changeMessage(id: id, mailbox: identity, change, visible: nil)
    }

    public func removeMessage(id: String, mailbox identity: String) async throws -> MailboxChange {
        try await removeMessage(id: id, mailbox: identity, visible: nil)
    }

    public func publish(_ publication: MWIPublication, to mailbox: MailboxAddress, publisher: String,
                        at now: Date) async throws -> MWIPublished {
        try await publish(publication, to: mailbox, publisher: publisher, at: now, visible: nil)
    }

    public func publish(_ publication: MWIPublication, mailbox identity: String, publisher: String, at now: Date,
                        visible: (@Sendable (MWIPublished) -> Void)? = nil) async throws -> MWIPublished {
        try await publish(publication, to: .identity(identity), publisher: publisher, at: now, visible: visible)
    }
}

/// A live publication of a mailbox's counts.
public struct MWIPublicationRecord: Codable, Sendable, Hashable {
    public var etag: String
    /// Who published: `trusted ADDRESS`, `digest USER` or `api`.
    public var publisher: String
    public var state: MessageWaitingState
    public var updatedAt: Date
    /// Nil: until replaced (`PUT mwi`).
    public var expiresAt: Date?

    public init(etag: String, publisher: String, state: MessageWaitingState, updatedAt: Date, expiresAt: Date?) {
        self.etag = etag
        self.publisher = publisher
        self.state = state
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
    }
}

/// What a publication did: its entity tag and end (none once removed), and the change.
public struct MWIPublished: Sendable, Hashable {
    public var etag: String?
    public var expiresAt: Date?
    public var change: MWIStateChange

    public init(etag: String?, expiresAt: Date?, change: MWIStateChange) {
        self.etag = etag
        self.expiresAt = expiresAt
        self.change = change
    }
}

/// What the policy decision of SPEC §2.2 needs for one mailbox.
public struct DeliveryContext: Sendable, Hashable {
    public var mailbox: UMMailbox
    public var dialPlan: DialPlan
    public var policy: MailboxPolicy
    public var gateways: [IPGateway]
    public var state: MessageWaitingState
    /// The version of `state`: it increases with every committed change of the counts.
    public var version: Int64
    public var acknowledged: AcknowledgedState?

    public init(mailbox: UMMailbox, dialPlan: DialPlan, policy: MailboxPolicy, gateways: [IPGateway],
                state: MessageWaitingState, version: Int64 = 0, acknowledged: AcknowledgedState? = nil) {
        self.mailbox = mailbox
        self.dialPlan = dialPlan
        self.policy = policy
        self.gateways = gateways
        self.state = state
        self.version = version
        self.acknowledged = acknowledged
    }

    /// The newest committed state has not been acknowledged yet.
    public var isPending: Bool { version > (acknowledged?.version ?? 0) }

    public var decision: MWIPolicyDecision {
        MWIPolicyDecision.decide(policy: policy, dialPlan: dialPlan.name, gateways: gateways)
    }
}

/// An entry of the event log: what changed or went wrong, when.
public struct DirectoryEvent: Codable, Sendable, Hashable {
    public enum Level: String, Codable, Sendable { case info, warning, error }
    /// Increasing; for paging with `after`.
    public var id: Int64
    public var at: Date
    public var level: Level
    /// `dialplan.created`, `mailbox.removed`, …
    public var kind: String
    /// The object concerned: a name or identity.
    public var subject: String
    public var message: String

    public init(id: Int64, at: Date, level: Level, kind: String, subject: String, message: String) {
        self.id = id
        self.at = at
        self.level = level
        self.kind = kind
        self.subject = subject
        self.message = message
    }
}

public struct EventQuery: Sendable, Hashable {
    /// Only events after this id, oldest first; without it, the newest `limit` events, newest first.
    public var after: Int64?
    public var limit: Int
    public var subject: String?

    public init(after: Int64? = nil, limit: Int = 100, subject: String? = nil) {
        self.after = after
        self.limit = limit
        self.subject = subject
    }
}
