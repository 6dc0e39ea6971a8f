import SIP

/// Identifiers made on hot paths (a voice message's id, a publication's ETag): random
/// (version 4) UUIDs in lower case, unique across mwid nodes. Drawn from SIP's buffered
/// system randomness: Foundation's `UUID()` opens, reads and closes /dev/urandom for each
/// one, and `SystemRandomNumberGenerator` makes a system call per number.
public enum RandomIdentifier {
    public static func uuid() -> String {
        var random = SharedSystemRandom()
        return uuid(high: random.next(), low: random.next())
    }

    /// The UUID of these 128 bits, its version and variant bits set.
    static func uuid(high: UInt64, low: UInt64) -> String {
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
