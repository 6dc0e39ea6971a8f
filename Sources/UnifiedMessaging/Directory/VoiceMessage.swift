public import Foundation
import SIP

/// A voice message in a mailbox. Every change of `read` or `urgent`, every deposit and
/// every deletion is an MWI state change.
public struct VoiceMessage: Codable, Sendable, Hashable {
    /// A UUID, made where the message is deposited: unique across mwid nodes.
    public var id: String
    /// The caller: a number or a URI.
    public var from: String
    public var receivedAt: Date
    public var durationSeconds: Int
    /// High importance.
    public var urgent: Bool
    public var protected: Bool
    public var read: Bool
    /// The start of the transcript (the preview), when there is one.
    public var transcript: String?

    public init(id: String, from: String, receivedAt: Date, durationSeconds: Int, urgent: Bool = false,
                protected: Bool = false, read: Bool = false, transcript: String? = nil) {
        self.id = id
        self.from = from
        self.receivedAt = receivedAt
        self.durationSeconds = durationSeconds
        self.urgent = urgent
        self.protected = protected
        self.read = read
        self.transcript = transcript
    }
}

/// What a deposit carries: the message without its identifier; the time defaults to now.
public struct VoiceMessageDeposit: Codable, Sendable, Hashable {
    public var from: String
    public var receivedAt: Date?
    public var durationSeconds: Int
    public var urgent: Bool
    public var protected: Bool
    public var read: Bool
    public var transcript: String?

    public init(from: String, receivedAt: Date? = nil, durationSeconds: Int, urgent: Bool = false,
                protected: Bool = false, read: Bool = false, transcript: String? = nil) {
        self.from = from
        self.receivedAt = receivedAt
        self.durationSeconds = durationSeconds
        self.urgent = urgent
        self.protected = protected
        self.read = read
        self.transcript = transcript
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case from, receivedAt, durationSeconds, urgent, protected, read, transcript
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decode(String.self, forKey: .from)
        receivedAt = try c.decodeIfPresent(Date.self, forKey: .receivedAt)
        durationSeconds = try c.requireInteger(.durationSeconds)
        urgent = try c.decodeIfPresent(Bool.self, forKey: .urgent) ?? false
        protected = try c.decodeIfPresent(Bool.self, forKey: .protected) ?? false
        read = try c.decodeIfPresent(Bool.self, forKey: .read) ?? false
        transcript = try c.decodeIfPresent(String.self, forKey: .transcript)
    }

    /// The message this deposit makes, with its identifier and the time to use when none was given.
    public func message(id: String, now: Date) -> VoiceMessage {
        VoiceMessage(id: id, from: from, receivedAt: receivedAt ?? now, durationSeconds: durationSeconds,
                     urgent: urgent, protected: protected, read: read, transcript: transcript)
    }
}

/// A change to a message: only the fields given change.
public struct VoiceMessageChange: Codable, Sendable, Hashable {
    public var read: Bool?
    public var urgent: Bool?

    public init(read: Bool? = nil, urgent: Bool? = nil) {
        self.read = read
        self.urgent = urgent
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case read, urgent }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        read = try c.decodeIfPresent(Bool.self, forKey: .read)
        urgent = try c.decodeIfPresent(Bool.self, forKey: .urgent)
    }

    public func applied(to message: VoiceMessage) -> VoiceMessage {
        var changed = message
        if let read { changed.read = read }
        if let urgent { changed.urgent = urgent }
        return changed
    }
}

/// A new message's identifier: a random (version 4) UUID in lower case, unique across
/// mwid nodes. Drawn from SIP's buffered system randomness: Foundation's `UUID()` opens,
/// reads and closes /dev/urandom for each one, three system calls on every deposit.
public enum VoiceMessageID {
    public static func make() -> String {
        var random = SharedSystemRandom()
        return make(high: random.next(), low: random.next())
    }

    /// The UUID of these 128 bits, its version and variant bits set.
    static func make(high: UInt64, low: UInt64) -> String {
        let high = high & ~0xF000 | 0x4000, low = low & ~(0xC000 << 48) | 0x8000 << 48
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { out in
            var at = 0
            for (word, dashes) in [(high, [8, 12]), (low, [0, 4])] {
                for nibble in 0..<16 {
                    if dashes.contains(nibble) {
                        out[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    out[at] = digits[Int(word >> UInt64(60 - 4 * nibble) & 0xF)]
                    at += 1
                }
            }
            return at
        }
    }
}
