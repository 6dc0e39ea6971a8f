/// A mailbox's MWI state (SPEC §2.1): the four counts of its voice messages, protected
/// ones included. `new` and `old` count every message; the urgent counts are the subsets
/// of high importance, as RFC 3842's `Voice-Message: new/old (urgentNew/urgentOld)`.
public struct MessageWaitingState: Codable, Sendable, Hashable, CustomStringConvertible {
    public var new: Int
    public var old: Int
    public var urgentNew: Int
    public var urgentOld: Int

    public init(new: Int = 0, old: Int = 0, urgentNew: Int = 0, urgentOld: Int = 0) {
        self.new = new
        self.old = old
        self.urgentNew = urgentNew
        self.urgentOld = urgentOld
    }

    /// The state of a mailbox holding `messages`.
    public init(messages: some Sequence<VoiceMessage>) {
        self.init()
        for message in messages { add(message) }
    }

    public var messagesWaiting: Bool { new > 0 }

    public mutating func add(_ message: VoiceMessage) {
        if message.read {
            old += 1
            if message.urgent { urgentOld += 1 }
        } else {
            new += 1
            if message.urgent { urgentNew += 1 }
        }
    }

    /// The state without `message` (deleted, or about to change).
    public mutating func remove(_ message: VoiceMessage) {
        if message.read {
            old -= 1
            if message.urgent { urgentOld -= 1 }
        } else {
            new -= 1
            if message.urgent { urgentNew -= 1 }
        }
    }

    /// The state after `before` became `after` (nil: deposited or deleted).
    public func changed(from before: VoiceMessage?, to after: VoiceMessage?) -> MessageWaitingState {
        var state = self
        if let before { state.remove(before) }
        if let after { state.add(after) }
        return state
    }

    /// Reads `description` back (`yes 3/2 (1/1)`).
    public init?(parsing text: String) {
        let parts = text.split(whereSeparator: { " /()".contains($0) }).dropFirst().compactMap { Int($0) }
        guard parts.count == 4 else { return nil }
        self.init(new: parts[0], old: parts[1], urgentNew: parts[2], urgentOld: parts[3])
    }

    public var description: String {
        "\(messagesWaiting ? "yes" : "no") \(new)/\(old) (\(urgentNew)/\(urgentOld))"
    }
}
