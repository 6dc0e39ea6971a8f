/// How a text message is encoded and cut into parts (GSM 03.38 / 3GPP TS 23.038 and
/// 23.040): the 7-bit default alphabet when every character is in it, UCS-2 otherwise; one
/// part when it fits (160 septets / 70 characters), else concatenated parts with a user
/// data header (153 septets / 67 characters each), at most `maximumParts`, the text cut
/// cleanly with an ellipsis when it is longer. Pure.
public enum SMSCoding: String, Sendable, Hashable, Codable {
    case gsm7 = "GSM7"
    case ucs2 = "UCS2"

    /// SMPP `data_coding`: 0 (the SMSC's default alphabet, GSM 03.38) or 8 (UCS-2).
    public var dataCoding: UInt8 { self == .gsm7 ? 0 : 8 }
}

public struct SMSText: Sendable, Hashable {
    public let coding: SMSCoding
    /// Each part's payload: GSM septets (one byte each, unpacked, escapes included) or
    /// UCS-2 big-endian bytes. No header: the sender adds the UDH to concatenated parts.
    public let parts: [[UInt8]]
    /// The text as it will be read (cut, with the ellipsis).
    public let text: String

    public static let singleSeptets = 160, partSeptets = 153, singleUnits = 70, partUnits = 67

    /// Encodes `text` in at most `maximumParts` parts.
    public init(_ text: String, maximumParts: Int = 3) {
        let limit = max(1, maximumParts)
        // One group of units per character: a character (an extension character's two
        // septets, a surrogate pair, combined marks) is never split between parts.
        let gsm = text.map { GSM7.septets(of: String($0)) }
        let septets = gsm.compactMap { $0 }
        if septets.count == gsm.count {
            coding = .gsm7
            let (cut, kept) = Self.fit(units: septets, single: Self.singleSeptets, part: Self.partSeptets, parts: limit,
                                       ellipsis: GSM7.septets(of: "...") ?? [])
            parts = cut
            self.text = kept.count == septets.count ? text : GSM7.decode(kept.flatMap { $0 }) + "..."
        } else {
            coding = .ucs2
            let groups = text.map { character in Array(String(character).utf16) }
            let (cut, kept) = Self.fit(units: groups, single: Self.singleUnits, part: Self.partUnits, parts: limit,
                                       ellipsis: Array("…".utf16))
            parts = cut.map { units in units.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }
            self.text = kept.count == groups.count ? text : String(decoding: kept.flatMap { $0 }, as: UTF16.self) + "…"
        }
    }

    /// Groups of units (a character each) packed into parts; the groups kept.
    private static func fit<Unit>(units groups: [[Unit]], single: Int, part: Int, parts limit: Int,
                                  ellipsis: [Unit]) -> (parts: [[Unit]], kept: [[Unit]]) {
        let total = groups.reduce(0) { $0 + $1.count }
        if total <= single { return ([groups.flatMap { $0 }], groups) }
        var kept = groups
        var cut = false
        // One part carries `single` units (no header); concatenated ones `part` each.
        let capacity = limit == 1 ? single : part * limit
        if total > capacity {
            // Keep what fits with the ellipsis.
            var budget = capacity - ellipsis.count
            var count = 0
            for group in groups {
                guard group.count <= budget else { break }
                budget -= group.count
                count += 1
            }
            kept = Array(groups.prefix(count))
            cut = true
        }
        var all = kept
        if cut { all.append(ellipsis) }
        if all.reduce(0, { $0 + $1.count }) <= single { return ([all.flatMap { $0 }], kept) }
        var result: [[Unit]] = [[]]
        for group in all {
            if result[result.count - 1].count + group.count > part { result.append([]) }
            result[result.count - 1] += group
        }
        return (result, kept)
    }

}

/// The GSM 03.38 default alphabet and its extension table.
public enum GSM7 {
    static let basic: [Unicode.Scalar] = Array(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
            .unicodeScalars)
    static let extensions: [Unicode.Scalar: UInt8] = ["\u{0C}": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C,
                                                      "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65]
    static let index: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (i, c) in basic.enumerated() where c != "\u{1B}" { map[c] = UInt8(i) }
        return map
    }()
    static let reverseExtensions: [UInt8: Unicode.Scalar] = Dictionary(uniqueKeysWithValues: extensions.map { ($1, $0) })

    /// The septets of `text` (an extension character as ESC and its code), or nil when a
    /// character is not in the alphabet.
    public static func septets(of text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let code = index[scalar] {
                out.append(code)
            } else if let code = extensions[scalar] {
                out.append(0x1B)
                out.append(code)
            } else {
                return nil
            }
        }
        return out
    }

    public static func decode(_ septets: [UInt8]) -> String {
        var out = String.UnicodeScalarView()
        var escape = false
        for s in septets {
            if escape {
                out.append(reverseExtensions[s] ?? " ")
                escape = false
            } else if s == 0x1B {
                escape = true
            } else if Int(s) < basic.count {
                out.append(basic[Int(s)])
            }
        }
        return String(out)
    }
}
