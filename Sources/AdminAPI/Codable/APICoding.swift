import Foundation
import UnifiedMessaging

/// The JSON conventions of the API: ISO 8601 times (fractional seconds accepted), sorted
/// keys, and RFC 7396 merge patches applied to the stored form of an object.
enum APICoding {
    /// Made once: a coder's configuration is fixed, and encoding or decoding with it from
    /// several requests at once is safe.
    static let sharedEncoder = encoder()
    static let sharedDecoder = decoder()

    static func encoder(includeSecrets: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(formatTime(date))
        }
        if includeSecrets { encoder.userInfo[.includeSecrets] = true }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = parseTime(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "must be an ISO 8601 time such as 2026-11-29T08:30:00Z (got \"\(text)\")")
            }
            return date
        }
        return decoder
    }

    /// `2026-11-29T08:30:00Z`: UTC, whole seconds (as `Date.ISO8601FormatStyle` writes
    /// it, which costs several microseconds a call; it still writes years out of 1970–9999).
    static func formatTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds >= 0, seconds < 253_402_300_800 else { return date.formatted(.iso8601) }
        var t = time_t(seconds), parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return date.formatted(.iso8601) }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    static func parseTime(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Applies a JSON merge patch (RFC 7396, top level) to `current`: the fields given
    /// replace the stored ones, `null` clears an optional field, the others stay. Secrets
    /// kept in the stored form survive a patch that does not name them.
    static func merge<T: Codable>(_ patch: [String: JSONValue], into current: T) throws -> T {
        let stored = try encoder(includeSecrets: true).encode(current)
        guard case .object(var fields) = try decoder().decode(JSONValue.self, from: stored) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "stored object is not a JSON object"))
        }
        for (key, value) in patch {
            if value == .null { fields.removeValue(forKey: key) } else { fields[key] = value }
        }
        return try decoder().decode(T.self, from: try encoder().encode(JSONValue.object(fields)))
    }
}
