/// A syntax error inside one header value or URI, with a message fit for a reason phrase.
public struct SIPSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
