import Foundation

/// An IPv4 or IPv6 network (`192.0.2.0/24`, `fd00::/8`) or a single address: the trusted
/// peers a PBX subscribes from on behalf of its phones. Pure: parsing and matching only.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), already masked.
    private let network: [UInt8]
    public let prefixLength: Int
    public let description: String

    /// Parses `ADDRESS` or `ADDRESS/PREFIX`; nil when it is neither.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let bytes = Self.bytes(of: String(first)) else { return nil }
        let bits = bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...bits).contains(p) else { return nil }
            prefix = p
        }
        network = Self.mask(bytes, prefix)
        prefixLength = prefix
        description = trimmed
    }

    /// Whether `address` (an IP literal, brackets allowed) is inside the range. An
    /// IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) matches IPv4 ranges.
    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        return Self.mask(bytes, prefixLength) == network
    }

    static func bytes(of text: String) -> [UInt8]? {
        var host = text
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if let percent = host.firstIndex(of: "%") { host = String(host[..<percent]) }  // zone index
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    private static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = max(0, min(8, prefix - index * 8))
            return keep == 8 ? byte : byte & ~(UInt8(0xFF) >> keep)
        }
    }
}

/// Per source address token buckets: at most `rate` requests a second on average, with
/// bursts of `burst`. Time is passed in (nanoseconds), so tests control it. Memory is
/// bounded: when many addresses are tracked, the ones whose bucket is full again are
/// forgotten (they are indistinguishable from new ones).
public struct RequestRateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    private var buckets: [String: (tokens: Double, at: Int64)] = [:]
    private let maximumTracked: Int

    public init(rate: Double, burst: Double, maximumTracked: Int = 10_000) {
        self.rate = rate
        self.burst = max(1, burst)
        self.maximumTracked = maximumTracked
    }

    /// Takes one token for `key`; false when its bucket is empty.
    public mutating func allow(_ key: String, now: Int64) -> Bool {
        var bucket = buckets[key] ?? (burst, now)
        let elapsed = Double(max(0, now - bucket.at)) / 1e9
        bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
        bucket.at = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        if buckets.count > maximumTracked { prune(now: now) }
        return allowed
    }

    /// Seconds until `key` may send again (for `Retry-After`), at least 1.
    public func retryAfter(_ key: String) -> Int {
        guard let bucket = buckets[key], rate > 0 else { return 1 }
        return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
    }

    public var trackedAddresses: Int { buckets.count }

    private mutating func prune(now: Int64) {
        let rate = self.rate, burst = self.burst
        buckets = buckets.filter { _, bucket in
            bucket.tokens + Double(max(0, now - bucket.at)) / 1e9 * rate < burst
        }
    }
}
