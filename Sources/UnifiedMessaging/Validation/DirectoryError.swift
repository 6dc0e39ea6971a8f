/// Why a directory operation was refused: what kind of refusal, the field at fault (in
/// JSON naming) and a sentence an administrator can act on. The API maps `code` to an
/// HTTP status in one place.
public struct DirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A value is wrong on its own or against the objects it names (400).
        case invalid
        /// The object addressed does not exist (404).
        case notFound = "not_found"
        /// A duplicate name or extension (409).
        case conflict
        /// The object is still referenced and cannot be removed (409).
        case inUse = "in_use"
    }

    public var code: Code
    public var field: String?
    public var message: String

    public init(_ code: Code, field: String?, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public static func invalid(_ field: String, _ message: String) -> DirectoryError {
        DirectoryError(.invalid, field: field, message)
    }

    public static func notFound(_ what: String, _ name: String, field: String? = nil) -> DirectoryError {
        DirectoryError(.notFound, field: field, "\(what) \"\(name)\" does not exist")
    }

    public var description: String {
        field.map { "\($0): \(message)" } ?? message
    }
}

/// The kinds of directory object, as named in messages and routes.
public enum DirectoryKind: String, Sendable, CaseIterable {
    case dialPlan = "dial plan"
    case gateway = "IP gateway"
    case policy = "mailbox policy"
    case mailbox = "mailbox"
    case message = "voice message"
}
