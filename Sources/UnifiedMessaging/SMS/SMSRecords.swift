public import Foundation

/// Where a queued text is in its life.
public enum SMSStatus: String, Codable, Sendable, Hashable, CaseIterable {
    /// Waiting to be sent (or to be retried, or for quiet hours to end).
    case queued
    /// Handed to the route; the answer is awaited.
    case sending
    /// The gateway accepted every part.
    case sent
    /// The operator confirmed delivery to the phone (an SMPP delivery receipt).
    case delivered
    /// Refused for good, or still failing when the retry window closed.
    case failed
    /// mwid stopped, or the connection broke, while it was being sent: whether the
    /// gateway took it is unknown, and it is not sent again (a text twice is worse than
    /// one that may be missing: the lamp shows the message anyway).
    case unconfirmed
    /// No longer worth sending: the voice message was heard or deleted before its text
    /// could go (quiet hours, retries).
    case cancelled
}

/// A text in the outbox and its history: made in the transaction of the event it tells
/// of, sent by the SMS dispatcher.
public struct SMSRecord: Codable, Sendable, Hashable {
    public var id: String
    public var mailbox: String
    public var purpose: SMSPurpose
    /// The voice message or missed call it tells of.
    public var subject: String
    /// E.164; shown masked by the API.
    public var number: String
    public var carrier: String
    public var locale: String
    /// The route it last went through.
    public var route: String?
    public var text: String
    public var createdAt: Date
    /// Not before this time (quiet hours, retry back-off).
    public var notBefore: Date
    public var status: SMSStatus
    public var attempts: Int
    /// Parts the gateway accepted so far: a retry sends only the rest.
    public var partsSent: Int
    /// The gateway's identifiers of the parts accepted (SMPP message ids).
    public var messageIDs: [String]
    public var lastError: String?
    public var updatedAt: Date

    public init(id: String, mailbox: String, purpose: SMSPurpose, subject: String, number: String, carrier: String,
                locale: String, route: String? = nil, text: String, createdAt: Date, notBefore: Date, status: SMSStatus = .queued,
                attempts: Int = 0, partsSent: Int = 0, messageIDs: [String] = [], lastError: String? = nil,
                updatedAt: Date? = nil) {
        self.id = id
        self.mailbox = mailbox
        self.purpose = purpose
        self.subject = subject
        self.number = number
        self.carrier = carrier
        self.locale = locale
        self.route = route
        self.text = text
        self.createdAt = createdAt
        self.notBefore = notBefore
        self.status = status
        self.attempts = attempts
        self.partsSent = partsSent
        self.messageIDs = messageIDs
        self.lastError = lastError
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// A call diverted to voice mail in which the caller left no message (SPEC §3, §4).
public struct MissedCall: Codable, Sendable, Hashable {
    public var id: String
    public var mailbox: String
    public var from: String
    public var at: Date
    /// The text queued for it, if one was.
    public var sms: String?

    public init(id: String, mailbox: String, from: String, at: Date, sms: String? = nil) {
        self.id = id
        self.mailbox = mailbox
        self.from = from
        self.at = at
        self.sms = sms
    }

    enum CodingKeys: String, CodingKey { case id, mailbox, from, at, sms }

    /// `sms` is always there, `null` when no text was queued.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(mailbox, forKey: .mailbox)
        try c.encode(from, forKey: .from)
        try c.encode(at, forKey: .at)
        try c.encode(sms, forKey: .sms)
    }
}

/// `POST calls/missed`: the mailbox by identity, or by extension in a dial plan.
public struct MissedCallReport: Codable, Sendable, Hashable {
    public var mailbox: String?
    public var `extension`: String?
    public var dialPlan: String?
    public var from: String
    public var at: Date?

    public init(mailbox: String? = nil, extension: String? = nil, dialPlan: String? = nil, from: String, at: Date? = nil) {
        self.mailbox = mailbox
        self.extension = `extension`
        self.dialPlan = dialPlan
        self.from = from
        self.at = at
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case mailbox, `extension`, dialPlan, from, at }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mailbox = try c.decodeIfPresent(String.self, forKey: .mailbox)
        `extension` = try c.decodeIfPresent(String.self, forKey: .extension)
        dialPlan = try c.decodeIfPresent(String.self, forKey: .dialPlan)
        from = try c.decode(String.self, forKey: .from)
        at = try c.decodeIfPresent(Date.self, forKey: .at)
    }
}

/// What a route did with one text (the parts still to send of it): how many parts it
/// accepted, their identifiers, and why it stopped when it did not take them all.
public struct SMSSendOutcome: Sendable, Hashable {
    public enum Failure: Sendable, Hashable {
        /// Worth trying again later (no connection, throttling, a 5xx, a temporary SMPP error).
        case temporary(String)
        /// Retrying will not help (a bad number, refused credentials, a 4xx).
        case permanent(String)
        /// The request left but no answer came back: the gateway may have taken it, so it
        /// is not sent again.
        case unknown(String)

        public var reason: String {
            switch self {
            case .temporary(let r), .permanent(let r), .unknown(let r): r
            }
        }
    }

    public var accepted: Int
    public var messageIDs: [String]
    public var failure: Failure?

    public init(accepted: Int, messageIDs: [String] = [], failure: Failure? = nil) {
        self.accepted = accepted
        self.messageIDs = messageIDs
        self.failure = failure
    }

    public static func failed(_ failure: Failure) -> SMSSendOutcome { SMSSendOutcome(accepted: 0, failure: failure) }
}

/// The retry policy of queued texts: what a record becomes after an attempt. Pure.
public struct SMSRetryPolicy: Sendable, Hashable {
    /// The first wait after a temporary failure; it doubles with each attempt.
    public var backoff: TimeInterval = 30
    public var maximumBackoff: TimeInterval = 15 * 60
    /// A text still failing this long after it was queued fails for good.
    public var window: TimeInterval = 4 * 3600

    public init() {}

    /// `record` after an attempt through `route` of its parts not yet sent (`total` parts in all).
    public func apply(_ outcome: SMSSendOutcome, to record: SMSRecord, route: String, totalParts: Int, now: Date) -> SMSRecord {
        var next = record
        next.attempts += 1
        next.route = route
        next.updatedAt = now
        next.partsSent = min(totalParts, record.partsSent + outcome.accepted)
        next.messageIDs += outcome.messageIDs
        guard let failure = outcome.failure else {
            next.status = .sent
            next.lastError = nil
            return next
        }
        next.lastError = failure.reason
        switch failure {
        case .permanent:
            next.status = .failed
        case .unknown:
            next.status = .unconfirmed
        case .temporary:
            let wait = min(maximumBackoff, backoff * pow(2, Double(min(next.attempts - 1, 30))))
            if now.addingTimeInterval(wait).timeIntervalSince(record.createdAt) > window {
                next.status = .failed
                next.lastError = "still failing after \(next.attempts) attempts: \(failure.reason)"
            } else {
                next.status = .queued
                next.notBefore = now.addingTimeInterval(wait)
            }
        }
        return next
    }
}
