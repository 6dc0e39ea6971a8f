/// Mobile numbers as users type them, normalised to E.164 with their locale's country
/// (SPEC §3: "validates the number (E.164 after normalising with the locale)"), and
/// shown back — callers in national form for the dial plan's country, the user's own
/// number masked. Pure.
public enum PhoneNumber {
    /// Country calling codes by ISO 3166 region (the part after `-` in a locale such as
    /// `fr-FR`). The regions whose national numbers keep their leading 0 (Italy) are in
    /// `keepsTrunkZero`.
    public static let callingCodes: [String: String] = [
        "FR": "33", "BE": "32", "CH": "41", "LU": "352", "MC": "377", "DE": "49", "AT": "43", "NL": "31", "GB": "44",
        "IE": "353", "ES": "34", "PT": "351", "IT": "39", "DK": "45", "SE": "46", "NO": "47", "FI": "358", "PL": "48",
        "CZ": "420", "GR": "30", "US": "1", "CA": "1", "MX": "52", "BR": "55", "AR": "54", "AU": "61", "NZ": "64",
        "JP": "81", "IN": "91", "ZA": "27", "MA": "212", "DZ": "213", "TN": "216", "SN": "221", "CI": "225",
    ]
    static let keepsTrunkZero: Set<String> = ["IT"]
    static let nanp: Set<String> = ["US", "CA"]

    /// The region of a locale: `fr-FR` → `FR`, `en_US` → `US`, `FR` → `FR`.
    public static func region(ofLocale locale: String) -> String? {
        let parts = locale.split(whereSeparator: { $0 == "-" || $0 == "_" })
        guard let last = parts.last, last.count == 2, last.allSatisfy(\.isLetter) else { return nil }
        return last.uppercased()
    }

    /// A locale as catalogs key it: `fr_fr` → `fr-FR`, `FR` → `FR`.
    public static func canonicalLocale(_ locale: String) -> String {
        let parts = locale.split(whereSeparator: { $0 == "-" || $0 == "_" })
        guard parts.count >= 2 else { return locale.count == 2 ? locale.uppercased() : locale }
        return ([parts[0].lowercased()] + parts.dropFirst().map { $0.count == 2 ? $0.uppercased() : String($0) }).joined(separator: "-")
    }

    /// The number in E.164 (`+` and 8 to 15 digits), or a reason it is not one.
    public static func normalize(_ text: String, locale: String) -> Result<String, DirectoryError> {
        let region = region(ofLocale: locale)
        var digits = ""
        var plus = false
        for (i, c) in text.enumerated() {
            if c == "+" && i == 0 { plus = true; continue }
            if c.isASCII && c.isNumber { digits.append(c); continue }
            if " .-()/\u{A0}".contains(c) { continue }
            return .failure(.invalid("number", "must hold only digits, spaces and + - . ( ) / (got \"\(text)\")"))
        }
        var international: String
        if plus {
            international = digits
        } else if digits.hasPrefix("00") {
            international = String(digits.dropFirst(2))
        } else if let region, nanp.contains(region), digits.hasPrefix("011") {
            international = String(digits.dropFirst(3))
        } else {
            guard let region, let code = callingCodes[region] else {
                return .failure(.invalid("number", "give it with its country code (+…): the locale \"\(locale)\" names no country mwid knows"))
            }
            if nanp.contains(region) {
                international = digits.count == 11 && digits.hasPrefix("1") ? digits : code + digits
            } else if keepsTrunkZero.contains(region) || !digits.hasPrefix("0") {
                international = code + digits
            } else {
                international = code + digits.dropFirst()
            }
        }
        guard (8...15).contains(international.count), international.first != "0" else {
            return .failure(.invalid("number", "is not a valid E.164 number once normalised (+\(international))"))
        }
        return .success("+" + international)
    }

    /// A caller as a user reads it: a number of the dial plan's country in national form
    /// (`01 42 68 53 00`, `(415) 555-0100`), another number as `+…`, a SIP URI without
    /// its scheme.
    public static func display(caller: String, countryCode: String?) -> String {
        var text = caller
        for scheme in ["sip:", "sips:", "tel:"] where text.lowercased().hasPrefix(scheme) {
            text = String(text.dropFirst(scheme.count))
            if let at = text.firstIndex(of: "@"), text[..<at].allSatisfy({ $0 == "+" || $0.isNumber }) { text = String(text[..<at]) }
        }
        var digits = text.filter(\.isNumber)
        let international = text.hasPrefix("+") && digits.count == text.count - 1
            || text.hasPrefix("00") && digits.count == text.count && digits.count > 4
        if text.hasPrefix("00") && international { digits = String(digits.dropFirst(2)) }
        let national: String
        if international {
            guard let code = countryCode, digits.hasPrefix(code) else { return "+" + digits }
            national = String(digits.dropFirst(code.count))
        } else if let code = countryCode, code != "1", code != "39", digits.count == text.count, digits.count >= 8,
                  digits.hasPrefix("0") {
            // A national number as a PBX sends it (0142685300): grouped the same way.
            national = String(digits.dropFirst())
        } else {
            return text
        }
        switch countryCode ?? "" {
        case "1" where national.count == 10:
            let d = Array(national)
            return "(\(String(d[0..<3]))) \(String(d[3..<6]))-\(String(d[6...]))"
        case "39":
            return national
        default:
            // Pairs after the trunk 0, as France, Belgium and Switzerland write them.
            let full = Array("0" + national)
            var groups: [String] = []
            var i = full.count % 2 == 0 ? 0 : 1
            if i == 1 { groups.append(String(full[0..<1])) }
            while i < full.count {
                groups.append(String(full[i..<min(i + 2, full.count)]))
                i += 2
            }
            return groups.joined(separator: " ")
        }
    }

    /// A number shown without revealing it: `+33 6•• ••• •78`.
    public static func masked(_ e164: String) -> String {
        let characters = Array(e164)
        guard characters.count > 6 else { return String(repeating: "•", count: characters.count) }
        return String(characters.prefix(4)) + String(repeating: "•", count: characters.count - 6) + String(characters.suffix(2))
    }
}
