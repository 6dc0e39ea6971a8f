import Crypto
public import Foundation

/// The limits of the self-service set-up (SPEC §3): codes expire, wrong codes are
/// counted, passcodes sent are rationed.
public struct SMSSetupLimits: Sendable, Hashable {
    /// How long a passcode is good for (15 minutes by default).
    public var codeLifetime: TimeInterval = 15 * 60
    /// Wrong codes before the set-up must start again.
    public var maximumWrongCodes = 5
    /// Passcodes sent per mailbox in any hour.
    public var sendsPerHour = 5

    public init() {}
}

/// Why a set-up step was refused.
public enum SMSSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No set-up is waiting for a code.
    case noSetup
    /// The code expired: the set-up must start again (or a new code be sent).
    case expired
    /// The code is wrong; this many tries are left.
    case wrongCode(triesLeft: Int)
    /// Too many wrong codes: the set-up was cancelled.
    case lockedOut
    /// The hourly ration of passcodes is spent until `retryAt`.
    case tooManySends(retryAt: Date)

    public var description: String {
        switch self {
        case .noSetup: "no SMS set-up is waiting for a code: start one with sms/setup"
        case .expired: "the passcode expired: ask for a new one (sms/resend) or start the set-up again"
        case .wrongCode(let left): "the passcode is wrong (\(left) \(left == 1 ? "try" : "tries") left)"
        case .lockedOut: "too many wrong passcodes: the set-up was cancelled, start it again"
        case .tooManySends(let at): "too many passcodes sent in the last hour: try again after \(at.formatted(.iso8601))"
        }
    }
}

/// The set-up flow as pure steps over `SMSSettings`; the caller makes the code and the
/// salt (randomly), stores the settings each step returns in the same transaction it
/// read them, and sends the code itself (it is never stored).
public enum SMSSetup {
    /// A random six-digit passcode.
    public static func makeCode<R: RandomNumberGenerator>(using generator: inout R) -> String {
        let value = Int.random(in: 0..<1_000_000, using: &generator)
        let digits = String(value)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }

    public static func makeSalt<R: RandomNumberGenerator>(using generator: inout R) -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func hash(_ code: String, salt: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(code.utf8), using: SymmetricKey(data: Data(salt.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Counts a passcode send against the hourly ration (refused when it is spent).
    static func ration(_ settings: inout SMSSettings, now: Date, limits: SMSSetupLimits) throws(SMSSetupError) {
        settings.sends = settings.sends.filter { now.timeIntervalSince($0) < 3600 && $0 <= now }.sorted()
        if settings.sends.count >= limits.sendsPerHour, let oldest = settings.sends.first {
            throw .tooManySends(retryAt: oldest.addingTimeInterval(3600))
        }
        settings.sends.append(now)
    }

    /// Starts (or restarts) a set-up for `number` (already normalised to E.164).
    public static func start(_ settings: SMSSettings, number: String, locale: String, carrier: String, code: String,
                             salt: String, now: Date, limits: SMSSetupLimits) throws(SMSSetupError) -> SMSSettings {
        var next = settings
        try ration(&next, now: now, limits: limits)
        next.pending = PendingSetup(number: number, locale: locale, carrier: carrier, codeHash: hash(code, salt: salt),
                                    salt: salt, expiresAt: now.addingTimeInterval(limits.codeLifetime))
        return next
    }

    /// Sends a new code for the set-up in progress: the old one stops working, the wrong
    /// codes already typed still count.
    public static func resend(_ settings: SMSSettings, code: String, salt: String, now: Date,
                              limits: SMSSetupLimits) throws(SMSSetupError) -> SMSSettings {
        guard var pending = settings.pending else { throw .noSetup }
        var next = settings
        try ration(&next, now: now, limits: limits)
        pending.codeHash = hash(code, salt: salt)
        pending.salt = salt
        pending.expiresAt = now.addingTimeInterval(limits.codeLifetime)
        next.pending = pending
        return next
    }

    /// Checks `code`. The settings to store come back in every case (a wrong code is
    /// counted, an expired or locked-out set-up is cleared) with the refusal, if any.
    public static func verify(_ settings: SMSSettings, code: String, now: Date,
                              limits: SMSSetupLimits) -> (settings: SMSSettings, refusal: SMSSetupError?) {
        guard var pending = settings.pending else { return (settings, .noSetup) }
        var next = settings
        guard now < pending.expiresAt else {
            next.pending = nil
            return (next, .expired)
        }
        guard constantTimeEqual(hash(code, salt: pending.salt), pending.codeHash) else {
            pending.wrongCodes += 1
            if pending.wrongCodes >= limits.maximumWrongCodes {
                next.pending = nil
                return (next, .lockedOut)
            }
            next.pending = pending
            return (next, .wrongCode(triesLeft: limits.maximumWrongCodes - pending.wrongCodes))
        }
        next.number = pending.number
        next.locale = pending.locale
        next.carrier = pending.carrier
        next.verifiedAt = now
        next.pending = nil
        return (next, nil)
    }

    /// The code as typed: six digits (spaces allowed between them), or nil.
    public static func normalizedCode(_ text: String) -> String? {
        let digits = text.filter { $0 != " " && $0 != "-" }
        guard digits.count == 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return digits
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
