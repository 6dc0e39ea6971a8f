import Foundation
import SIP

/// Every rule of the directory in one place (SPEC §1). Each check is a pure function of
/// the object and of the related objects the caller looked up in the same transaction,
/// so that any storage backend applies exactly the same rules.
public enum DirectoryValidation {
    /// Names of dial plans, gateways and policies: they appear in URLs and tables.
    public static func checkName(_ name: String, field: String = "name", maxLength: Int = 64) throws(DirectoryError) {
        if name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw .invalid(field, "must not be empty")
        }
        if name.count > maxLength {
            throw .invalid(field, "must be at most \(maxLength) characters (got \(name.count))")
        }
        if name.unicodeScalars.contains(where: { $0 == "/" || $0.value < 0x20 || $0.value == 0x7F }) {
            throw .invalid(field, "must not contain \"/\" or control characters")
        }
        if name != name.trimmingCharacters(in: .whitespaces) {
            throw .invalid(field, "must not begin or end with a space")
        }
    }

    // MARK: Dial plans

    public static func check(_ plan: DialPlan) throws(DirectoryError) {
        try checkName(plan.name)
        guard (1...20).contains(plan.numberOfDigitsInExtension) else {
            throw .invalid("numberOfDigitsInExtension", "must be between 1 and 20 (got \(plan.numberOfDigitsInExtension))")
        }
        if let code = plan.countryOrRegionCode {
            guard (1...3).contains(code.count), code.allSatisfy(\.isASCIIDigit) else {
                throw .invalid("countryOrRegionCode", "must be a country calling code of 1 to 3 digits, such as 33 or 1 (got \"\(code)\")")
            }
        }
    }

    /// A change of a dial plan that already has mailboxes and gateways: it must not make
    /// any of them invalid.
    public static func checkChange(_ plan: DialPlan, mailboxes: [UMMailbox], gateways: [IPGateway]) throws(DirectoryError) {
        try check(plan)
        for mailbox in mailboxes {
            if mailbox.extension.count != plan.numberOfDigitsInExtension {
                throw .invalid("numberOfDigitsInExtension",
                               "mailbox \(mailbox.identity) has extension \(mailbox.extension) of \(mailbox.extension.count) digits; change or remove it first")
            }
            do {
                try checkResourceIdentifier(mailbox.sipResourceIdentifier, uriType: plan.uriType)
            } catch {
                throw .invalid("uriType", "mailbox \(mailbox.identity) would be invalid: \(error.message)")
            }
        }
        if plan.voipSecurity.requiresTLS, let plain = gateways.first(where: { $0.transport == .udp || $0.transport == .tcp }) {
            throw .invalid("voipSecurity",
                           "IP gateway \(plain.name) is forced to \(plain.transport) and cannot serve a \(plan.voipSecurity) dial plan; set its transport to tls or auto first")
        }
    }

    // MARK: Gateways

    /// `dialPlans` are the dial plans the gateway names that exist.
    public static func check(_ gateway: IPGateway, dialPlans: [String: DialPlan]) throws(DirectoryError) {
        try checkName(gateway.name)
        try checkAddress(gateway.address)
        guard (1...65535).contains(gateway.port) else {
            throw .invalid("port", "must be between 1 and 65535 (got \(gateway.port))")
        }
        var seen = Set<String>()
        for name in gateway.dialPlans {
            guard seen.insert(name).inserted else {
                throw .invalid("dialPlans", "names dial plan \(name) twice")
            }
            guard let plan = dialPlans[name] else {
                throw .notFound("dial plan", name, field: "dialPlans")
            }
            if plan.voipSecurity.requiresTLS && (gateway.transport == .udp || gateway.transport == .tcp) {
                throw .invalid("transport",
                               "dial plan \(name) is \(plan.voipSecurity): a gateway forced to \(gateway.transport) cannot serve it (use tls or auto)")
            }
        }
        if gateway.password != nil && (gateway.username ?? "").isEmpty {
            throw .invalid("username", "is required with a password")
        }
        if let username = gateway.username, username.isEmpty || username.contains(where: { $0.isNewline }) {
            throw .invalid("username", "must not be empty or hold line breaks")
        }
    }

    /// An IPv4 or IPv6 literal, or a host name (labels of letters, digits and hyphens).
    public static func checkAddress(_ address: String, field: String = "address") throws(DirectoryError) {
        if isIPv4(address) || isIPv6(address) || isHostName(address) { return }
        throw .invalid(field, "must be an IPv4 or IPv6 address or a fully qualified domain name (got \"\(address)\")")
    }

    public static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.count) && part.allSatisfy(\.isASCIIDigit) && (Int(part) ?? 256) <= 255
                && !(part.count > 1 && part.first == "0")
        }
    }

    public static func isIPv6(_ text: String) -> Bool {
        var body = Substring(text)
        if body.hasPrefix("[") && body.hasSuffix("]") { body = body.dropFirst().dropLast() }
        guard body.contains(":"), body.count <= 45 else { return false }
        let halves = body.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        var groups = 0
        for (index, half) in halves.enumerated() where !half.isEmpty {
            let pieces = half.split(separator: ":", omittingEmptySubsequences: false)
            for (i, piece) in pieces.enumerated() {
                let isLast = index == halves.count - 1 && i == pieces.count - 1
                if isLast && piece.contains(".") {
                    guard isIPv4(String(piece)) else { return false }
                    groups += 2
                } else {
                    guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit) else { return false }
                    groups += 1
                }
            }
        }
        return halves.count == 2 ? groups <= 7 : groups == 8
    }

    public static func isHostName(_ text: String) -> Bool {
        var name = Substring(text)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.count), label.first != "-", label.last != "-",
                  label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return false }
        }
        // A last label of digits only would be a mistyped IPv4 address, not a name.
        return !(labels.last?.allSatisfy(\.isASCIIDigit) ?? true)
    }

    // MARK: Policies

    public static func check(_ policy: MailboxPolicy, dialPlanExists: Bool) throws(DirectoryError) {
        try checkName(policy.name)
        guard dialPlanExists else { throw .notFound("dial plan", policy.dialPlan, field: "dialPlan") }
    }

    // MARK: Mailboxes

    /// `extensionOwner` is the identity of the mailbox that already has this extension in
    /// this dial plan, if any.
    public static func check(_ mailbox: UMMailbox, dialPlan: DialPlan?, policy: MailboxPolicy?,
                             extensionOwner: String?) throws(DirectoryError) {
        try checkName(mailbox.identity, field: "identity", maxLength: 256)
        if mailbox.identity.contains(where: \.isWhitespace) {
            throw .invalid("identity", "must not contain spaces")
        }
        guard let dialPlan else { throw .notFound("dial plan", mailbox.dialPlan, field: "dialPlan") }
        guard let policy else { throw .notFound("mailbox policy", mailbox.policy, field: "policy") }
        guard policy.dialPlan == dialPlan.name else {
            throw .invalid("policy", "mailbox policy \(policy.name) belongs to dial plan \(policy.dialPlan), not \(dialPlan.name)")
        }
        guard mailbox.extension.allSatisfy(\.isASCIIDigit), !mailbox.extension.isEmpty else {
            throw .invalid("extension", "must be digits only (got \"\(mailbox.extension)\")")
        }
        guard mailbox.extension.count == dialPlan.numberOfDigitsInExtension else {
            throw .invalid("extension",
                           "must have \(dialPlan.numberOfDigitsInExtension) digits in dial plan \(dialPlan.name) (got \(mailbox.extension.count))")
        }
        if let owner = extensionOwner, owner != mailbox.identity {
            throw DirectoryError(.conflict, field: "extension",
                                 "extension \(mailbox.extension) is already used by \(owner) in dial plan \(dialPlan.name)")
        }
        try checkResourceIdentifier(mailbox.sipResourceIdentifier, uriType: dialPlan.uriType)
        if let password = mailbox.sipPassword {
            guard (1...128).contains(password.count), !password.contains(where: { $0.isNewline }) else {
                throw .invalid("sipPassword", "must be 1 to 128 characters without line breaks")
            }
        }
    }

    /// The SIP URI or E.164 number a `SipName` or `E164` dial plan requires.
    public static func checkResourceIdentifier(_ value: String?, uriType: URIType) throws(DirectoryError) {
        let field = "sipResourceIdentifier"
        switch uriType {
        case .sipName:
            guard let value else { throw .invalid(field, "is required in a SipName dial plan (a SIP URI such as sip:alice@example.com)") }
            guard isSIPAddressOfRecord(value) else {
                throw .invalid(field, "must be a SIP URI with a user, such as sip:alice@example.com (got \"\(value)\")")
            }
        case .e164:
            guard let value else { throw .invalid(field, "is required in an E164 dial plan (a number such as +33142685300)") }
            guard isE164(value) else {
                throw .invalid(field, "must be an E.164 number: + and 2 to 15 digits, such as +33142685300 (got \"\(value)\")")
            }
        case .telExtn:
            if let value, !isSIPAddressOfRecord(value) && !isE164(value) {
                throw .invalid(field, "must be a SIP URI or an E.164 number (got \"\(value)\")")
            }
        }
    }

    public static func isE164(_ text: String) -> Bool {
        let digits = text.dropFirst()
        return text.first == "+" && (2...15).contains(digits.count) && digits.allSatisfy(\.isASCIIDigit) && digits.first != "0"
    }

    public static func isSIPAddressOfRecord(_ text: String) -> Bool {
        guard let uri = try? SIPURI(parsing: text), uri.scheme == .sip || uri.scheme == .sips,
              let user = uri.user, !user.isEmpty, !uri.host.isEmpty else { return false }
        return true
    }

    // MARK: Messages

    public static func check(_ deposit: VoiceMessageDeposit) throws(DirectoryError) {
        // Something besides blanks (`CharacterSet.whitespaces`: tab and Unicode's spaces).
        let blank = { (scalar: Unicode.Scalar) in
            scalar.isASCII ? scalar == " " || scalar == "\t" : CharacterSet.whitespaces.contains(scalar)
        }
        guard !deposit.from.unicodeScalars.allSatisfy(blank), deposit.from.count <= 256 else {
            throw .invalid("from", "must be a caller number or URI of 1 to 256 characters")
        }
        guard (0...86_400).contains(deposit.durationSeconds) else {
            throw .invalid("durationSeconds", "must be between 0 and 86400 (got \(deposit.durationSeconds))")
        }
        if let transcript = deposit.transcript, transcript.utf8.count > 65_536 {
            throw .invalid("transcript", "must be at most 64 KiB")
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension DirectoryValidation {
    /// Counts published by another voicemail system (`PUT mwi`, PUBLISH): whole numbers
    /// from 0 to 2^32-1 (RFC 3842's range), the urgent ones a part of their class.
    public static func check(_ state: MessageWaitingState) throws(DirectoryError) {
        for (field, value) in [("new", state.new), ("old", state.old), ("urgentNew", state.urgentNew), ("urgentOld", state.urgentOld)] {
            guard (0...Int(UInt32.max)).contains(value) else {
                throw .invalid(field, "must be a count from 0 to \(UInt32.max) (got \(value))")
            }
        }
        guard state.urgentNew <= state.new else {
            throw .invalid("urgentNew", "counts urgent messages among the new ones: at most new (\(state.new), got \(state.urgentNew))")
        }
        guard state.urgentOld <= state.old else {
            throw .invalid("urgentOld", "counts urgent messages among the old ones: at most old (\(state.old), got \(state.urgentOld))")
        }
    }
}
