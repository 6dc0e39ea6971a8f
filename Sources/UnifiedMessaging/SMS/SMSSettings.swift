public import Foundation

/// A mailbox's text-messaging settings (SPEC §1, §3): the verified mobile number with its
/// locale and carrier, a set-up in progress, the passcodes sent in the last hour, and
/// the user's quiet hours. Only `number` (verified) is ever texted.
public struct SMSSettings: Codable, Sendable, Hashable {
    /// The verified number, E.164.
    public var number: String?
    public var locale: String?
    public var carrier: String?
    public var verifiedAt: Date?
    /// A set-up waiting for its passcode (the verified number, if any, stays in use meanwhile).
    public var pending: PendingSetup?
    /// When passcodes were sent, the last hour's (for the hourly limit).
    public var sends: [Date]
    public var quietHours: QuietHours?
    /// IANA time zone of the user (quiet hours, times in the texts); UTC when absent.
    public var timeZone: String?

    public init(number: String? = nil, locale: String? = nil, carrier: String? = nil, verifiedAt: Date? = nil,
                pending: PendingSetup? = nil, sends: [Date] = [], quietHours: QuietHours? = nil, timeZone: String? = nil) {
        self.number = number
        self.locale = locale
        self.carrier = carrier
        self.verifiedAt = verifiedAt
        self.pending = pending
        self.sends = sends
        self.quietHours = quietHours
        self.timeZone = timeZone
    }

    public enum State: String, Codable, Sendable {
        /// No number.
        case off
        /// A set-up waits for its passcode and no number is verified yet.
        case pending
        /// A number is verified (another set-up may be in progress).
        case verified
    }

    public var state: State {
        if number != nil { return .verified }
        return pending == nil ? .off : .pending
    }

    /// The time zone, UTC when unset or unknown.
    public var zone: TimeZone { timeZone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC") ?? .gmt }
}

/// A set-up waiting for the user to type back the passcode sent to `number`.
public struct PendingSetup: Codable, Sendable, Hashable {
    public var number: String
    public var locale: String
    public var carrier: String
    /// HMAC-SHA256 of the code keyed with `salt`, hex: the code itself is never stored.
    public var codeHash: String
    public var salt: String
    public var expiresAt: Date
    public var wrongCodes: Int

    public init(number: String, locale: String, carrier: String, codeHash: String, salt: String, expiresAt: Date,
                wrongCodes: Int = 0) {
        self.number = number
        self.locale = locale
        self.carrier = carrier
        self.codeHash = codeHash
        self.salt = salt
        self.expiresAt = expiresAt
        self.wrongCodes = wrongCodes
    }
}

/// A daily window in which texts are held until it ends (in the user's time zone):
/// `22:00`–`07:00` crosses midnight.
public struct QuietHours: Codable, Sendable, Hashable {
    /// `HH:MM`, 24-hour.
    public var start: String
    public var end: String

    public init(start: String, end: String) {
        self.start = start
        self.end = end
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case start, end }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        start = try c.decode(String.self, forKey: .start)
        end = try c.decode(String.self, forKey: .end)
    }

    /// Minutes after midnight of `HH:MM`, or nil.
    public static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), (0...23).contains(h), (0...59).contains(m) else { return nil }
        return h * 60 + m
    }

    /// When a text due at `date` may go: `date` itself outside the window, else the
    /// window's end (in `zone`, so daylight-saving changes are followed).
    public func release(_ date: Date, in zone: TimeZone) -> Date {
        guard let start = Self.minutes(start), let end = Self.minutes(end), start != end else { return date }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        let now = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let inside = start < end ? (now >= start && now < end) : (now >= start || now < end)
        guard inside else { return date }
        let midnight = calendar.startOfDay(for: date)
        // The end is today when the window has not crossed midnight yet or already did.
        let endDay = (start > end && now >= start) ? calendar.date(byAdding: .day, value: 1, to: midnight) ?? midnight : midnight
        return calendar.date(bySettingHour: end / 60, minute: end % 60, second: 0, of: endDay) ?? date
    }
}

/// What texts are for.
public enum SMSPurpose: String, Codable, Sendable, Hashable, CaseIterable {
    case voiceMail
    case missedCall
}

/// SPEC §3: who gets a text. Pure.
public enum SMSNotificationDecision {
    /// Whether `purpose` is texted to the mailbox, and why (or why not).
    public static func decide(_ purpose: SMSPurpose, policy: MailboxPolicy, option: SMSNotificationOption,
                              settings: SMSSettings?) -> (send: Bool, reason: String) {
        guard policy.allowSMSNotification else {
            return (false, "mailbox policy \(policy.name) does not allow SMS notification")
        }
        switch (purpose, option) {
        case (_, .none):
            return (false, "the mailbox's SMS notification option is None")
        case (.missedCall, .voiceMail):
            return (false, "the mailbox's SMS notification option is VoiceMail (missed calls need VoiceMailAndMissedCalls)")
        case (.voiceMail, .voiceMail), (.voiceMail, .voiceMailAndMissedCalls), (.missedCall, .voiceMailAndMissedCalls):
            guard settings?.number != nil else { return (false, "the mailbox has no verified mobile number") }
            return (true, "texted to the verified number")
        }
    }
}
