/// The `application/simple-message-summary` body of RFC 3842.
///
/// Written exactly: `Messages-Waiting`, then `Message-Account`, then one line per message
/// class in the order voice, fax, pager, multimedia, text, none, each as
/// `new/old (urgentNew/urgentOld)`, then the optional message header groups, each after an
/// empty line. Read leniently: any case, spaces around separators, LF or CRLF, unknown
/// lines ignored.
public struct MessageSummary: Sendable, Equatable {
    public enum MessageClass: String, Sendable, CaseIterable {
        case voice = "Voice-Message"
        case fax = "Fax-Message"
        case pager = "Pager-Message"
        case multimedia = "Multimedia-Message"
        case text = "Text-Message"
        case none = "None"
    }

    /// new/old (urgentNew/urgentOld); each count up to 2^32-1.
    public struct Counts: Sendable, Equatable, Hashable {
        public var new: UInt32
        public var old: UInt32
        public var urgentNew: UInt32
        public var urgentOld: UInt32

        public init(new: UInt32, old: UInt32, urgentNew: UInt32 = 0, urgentOld: UInt32 = 0) {
            self.new = new
            self.old = old
            self.urgentNew = urgentNew
            self.urgentOld = urgentOld
        }

        public static let zero = Counts(new: 0, old: 0)
    }

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var messagesWaiting: Bool
    /// The account the summary is for (usually a SIP URI), as text.
    public var messageAccount: String?
    /// Counts per class, in canonical order; classes without a line are absent.
    public private(set) var counts: [(MessageClass, Counts)]
    /// Optional message headers (RFC 3842 §5.2): groups of `Name: value` lines, one group
    /// per message, each preceded by an empty line.
    public var messageHeaders: [[Header]]

    public init(messagesWaiting: Bool, messageAccount: String? = nil, counts: [MessageClass: Counts] = [:], messageHeaders: [[Header]] = []) {
        self.messagesWaiting = messagesWaiting
        self.messageAccount = messageAccount
        self.counts = MessageClass.allCases.compactMap { c in counts[c].map { (c, $0) } }
        self.messageHeaders = messageHeaders
    }

    /// A voice-mail summary: waiting when there is at least one new message.
    public init(voice: Counts, messageAccount: String? = nil) {
        self.init(messagesWaiting: voice.new > 0, messageAccount: messageAccount, counts: [.voice: voice])
    }

    public subscript(_ c: MessageClass) -> Counts? {
        get { counts.first { $0.0 == c }?.1 }
        set {
            counts.removeAll { $0.0 == c }
            if let newValue {
                counts.append((c, newValue))
                counts.sort { Self.order($0.0) < Self.order($1.0) }
            }
        }
    }

    private static func order(_ c: MessageClass) -> Int { MessageClass.allCases.firstIndex(of: c) ?? 0 }

    public static func == (a: MessageSummary, b: MessageSummary) -> Bool {
        a.messagesWaiting == b.messagesWaiting && a.messageAccount == b.messageAccount
            && a.counts.map(\.0) == b.counts.map(\.0) && a.counts.map(\.1) == b.counts.map(\.1)
            && a.messageHeaders == b.messageHeaders
    }

    // MARK: Writing

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The body as written on the wire (no line break can come from a value).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        out.append(contentsOf: "Messages-Waiting: ".utf8)
        out.append(contentsOf: (messagesWaiting ? "yes" : "no").utf8)
        out.append(contentsOf: "\r\n".utf8)
        if let messageAccount {
            out.append(contentsOf: "Message-Account: ".utf8)
            Self.appendClean(messageAccount, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        for (c, n) in counts {
            out.append(contentsOf: c.rawValue.utf8)
            out.append(contentsOf: ": ".utf8)
            SIPMessage.appendDecimal(Int(n.new), to: &out)
            out.append(ASCII.slash)
            SIPMessage.appendDecimal(Int(n.old), to: &out)
            out.append(contentsOf: " (".utf8)
            SIPMessage.appendDecimal(Int(n.urgentNew), to: &out)
            out.append(ASCII.slash)
            SIPMessage.appendDecimal(Int(n.urgentOld), to: &out)
            out.append(contentsOf: ")\r\n".utf8)
        }
        for group in messageHeaders {
            out.append(contentsOf: "\r\n".utf8)
            for h in group {
                Self.appendClean(h.name, to: &out)
                out.append(contentsOf: ": ".utf8)
                Self.appendClean(h.value, to: &out)
                out.append(contentsOf: "\r\n".utf8)
            }
        }
        return out
    }

    private static func appendClean(_ s: String, to out: inout [UInt8]) {
        for byte in s.utf8 { out.append(byte == ASCII.cr || byte == ASCII.lf ? ASCII.space : byte) }
    }

    // MARK: Reading

    public init(parsing text: String) throws(SIPSyntaxError) {
        try self.init(parsing: Array(text.utf8))
    }

    public init(parsing body: some Collection<UInt8>) throws(SIPSyntaxError) {
        let bytes = Array(body)
        guard bytes.count <= 65_536 else { throw SIPSyntaxError("message summary too large") }
        // Split into lines (LF or CRLF), then into the summary section and header groups.
        var lines: [String] = []
        var start = 0
        for i in 0...bytes.count where i == bytes.count || bytes[i] == ASCII.lf {
            var end = i
            if end > start, bytes[end - 1] == ASCII.cr { end -= 1 }
            lines.append(String(decoding: bytes[start..<end], as: UTF8.self))
            start = i + 1
        }
        while let last = lines.last, last.allSatisfy({ $0 == " " || $0 == "\t" }) { lines.removeLast() }

        var waiting: Bool?
        var account: String?
        var counts: [MessageClass: Counts] = [:]
        var groups: [[Header]] = []
        var inHeaders = false
        for line in lines {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
                inHeaders = true
                groups.append([])
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw SIPSyntaxError("message summary line without ':'")
            }
            let name = line[..<colon].trimmingWhitespace()
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            if inHeaders {
                groups[groups.count - 1].append(Header(name: String(name), value: String(value)))
                continue
            }
            if Self.equalsIgnoringCase(name, "Messages-Waiting") {
                if Self.equalsIgnoringCase(value, "yes") {
                    waiting = true
                } else if Self.equalsIgnoringCase(value, "no") {
                    waiting = false
                } else {
                    throw SIPSyntaxError("Messages-Waiting must be yes or no")
                }
            } else if Self.equalsIgnoringCase(name, "Message-Account") {
                account = String(value)
            } else if let c = MessageClass.allCases.first(where: { Self.equalsIgnoringCase(name, $0.rawValue) }) {
                counts[c] = try Self.parseCounts(value)
            }
        }
        guard let waiting else { throw SIPSyntaxError("message summary without Messages-Waiting") }
        self.init(messagesWaiting: waiting, messageAccount: account, counts: counts, messageHeaders: groups.filter { !$0.isEmpty })
    }

    private static func equalsIgnoringCase(_ a: Substring, _ b: String) -> Bool {
        ASCII.equalsIgnoringCase(a.utf8, b.utf8)
    }

    /// newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]
    private static func parseCounts(_ s: Substring) throws(SIPSyntaxError) -> Counts {
        var numbers: [UInt32] = []
        var current: UInt64?
        var separators: [Character] = []
        for ch in s {
            if let d = ch.wholeNumberValue, ch.isASCII {
                let v = (current ?? 0) * 10 + UInt64(d)
                guard v <= UInt64(UInt32.max) else { throw SIPSyntaxError("message count too large") }
                current = v
            } else if ch == " " || ch == "\t" {
                if let c = current { numbers.append(UInt32(c)); current = nil }
            } else if ch == "/" || ch == "(" || ch == ")" {
                if let c = current { numbers.append(UInt32(c)); current = nil }
                separators.append(ch)
            } else {
                throw SIPSyntaxError("bad character in message counts")
            }
        }
        if let c = current { numbers.append(UInt32(c)) }
        switch (numbers.count, separators) {
        case (2, ["/"]):
            return Counts(new: numbers[0], old: numbers[1])
        case (4, ["/", "(", "/", ")"]):
            return Counts(new: numbers[0], old: numbers[1], urgentNew: numbers[2], urgentOld: numbers[3])
        default:
            throw SIPSyntaxError("message counts must read new/old (urgentNew/urgentOld)")
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
