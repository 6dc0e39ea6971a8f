/// A coding key for any string, to list the keys a JSON object really has.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ string: String) { stringValue = string }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { return nil }
}

extension Decoder {
    /// Refuses a JSON object holding a key outside `allowed`, naming it: a misspelt field
    /// must not be silently ignored by an administrator's script.
    public func rejectUnknownKeys(allowed: some Sequence<String>) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let known = Set(allowed)
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: codingPath + [key], debugDescription: "unknown field"))
        }
    }
}

extension CodingUserInfoKey {
    /// Set to `true` when encoding for storage: write-only secrets (gateway password,
    /// mailbox SIP password) are included. Without it they are left out.
    public static let includeSecrets = CodingUserInfoKey(rawValue: "mwid.includeSecrets")!
}

extension Encoder {
    var includesSecrets: Bool { (userInfo[.includeSecrets] as? Bool) == true }
}

extension KeyedDecodingContainer {
    /// An integer field, absent or null giving nil. A fraction or a value out of range is
    /// refused naming the field (Foundation's own error for `4.5` names no field).
    public func decodeInteger(_ key: Key) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let value = try? decode(Int.self, forKey: key) { return value }
        if (try? decode(String.self, forKey: key)) != nil || (try? decode(Bool.self, forKey: key)) != nil {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: codingPath + [key], debugDescription: "must be an integer"))
        }
        throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "must be a whole number"))
    }

    /// A required integer field.
    public func requireInteger(_ key: Key) throws -> Int {
        guard let value = try decodeInteger(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "is required"))
        }
        return value
    }
}
