public import Foundation

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
