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
        func hex(_ value: UInt64, _ digits: Int) -> String { SIPIdentifiers.hex(value, digits: digits) }
        return hex(high >> 32, 8) + "-" + hex(high >> 16, 4) + "-" + hex(high, 4) + "-" + hex(low >> 48, 4) + "-" + hex(low, 12)
    }
}
