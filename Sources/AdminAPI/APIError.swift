import Foundation
public import Hummingbird
import Logging
import Metrics
import NIOCore
import UnifiedMessaging

/// The API's error answer, `{"error": {"code", "message", "field"}}` with its status.
/// Every error raised below the API is mapped here, in one place.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?
    /// Seconds after which the request may succeed (`Retry-After`).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, field: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code): \(field.map { "\($0): " } ?? "")\(message)" }

    static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code: "invalid", message, field: field)
    }

    /// The answer for any error; `nil` when it is not the caller's fault (a 500).
    static func from(_ error: any Error) -> APIError? {
        switch error {
        case let error as APIError:
            return error
        case let error as DirectoryError:
            let status: HTTPResponse.Status = switch error.code {
            case .invalid: .badRequest
            case .notFound: .notFound
            case .conflict, .inUse: .conflict
            }
            return APIError(status, code: error.code.rawValue, error.message, field: error.field)
        case let error as SMSSetupError:
            switch error {
            case .noSetup: return APIError(.conflict, code: "no_setup", error.description)
            case .expired: return APIError(.gone, code: "code_expired", error.description, field: "code")
            case .wrongCode: return APIError(.badRequest, code: "wrong_code", error.description, field: "code")
            case .lockedOut: return APIError(.forbidden, code: "locked_out", error.description, field: "code")
            case .tooManySends(let at):
                return APIError(.tooManyRequests, code: "too_many_passcodes", error.description,
                                retryAfter: max(1, Int(at.timeIntervalSinceNow.rounded(.up))))
            }
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, code: "too_large", "the request body is larger than 1 MiB")
        case let error as DecodingError:
            return from(decoding: error)
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return APIError(.notFound, code: "not_found", "no such resource")
            case .contentTooLarge:
                return APIError(.contentTooLarge, code: "too_large", "the request body is larger than 1 MiB")
            default:
                return APIError(error.status, code: "http", error.body ?? error.status.reasonPhrase)
            }
        default:
            return nil
        }
    }

    static func from(decoding error: DecodingError) -> APIError {
        func path(_ keys: [any CodingKey]) -> String? {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : "." + key.stringValue }
            }
            return text.isEmpty ? nil : text
        }
        switch error {
        case .typeMismatch(let type, let context):
            return .badRequest("must be \(jsonName(type))", field: path(context.codingPath))
        case .valueNotFound(let type, let context):
            return .badRequest("must be \(jsonName(type)), not null", field: path(context.codingPath))
        case .keyNotFound(let key, let context):
            return .badRequest("is required", field: path(context.codingPath + [key]))
        case .dataCorrupted(let context):
            guard let field = path(context.codingPath) else {
                return APIError(.badRequest, code: "malformed_json", "the body is not valid JSON")
            }
            return .badRequest(context.debugDescription, field: field)
        @unknown default:
            return .badRequest("the body could not be read")
        }
    }

    static func jsonName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Date.Type: "an ISO 8601 time"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let (headers, body) = try encoded()
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// The answer's headers and JSON body.
    func encoded() throws -> (HTTPFields, ByteBuffer) {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        error["field"] = field.map(JSONValue.string) ?? .null
        let body = try APICoding.sharedEncoder.encode(JSONValue.object(["error": .object(error)]))
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"mwid\"" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return (headers, ByteBuffer(bytes: body))
    }

    /// The answer for any error, a 500 for those that are mwid's fault (logged with what
    /// went wrong, and counted).
    static func answer(for error: any Error, path: String, logger: Logger) -> APIError {
        if let answer = from(error) { return answer }
        logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error)"])
        Counter(label: "mwid_http_internal_errors_total").increment()
        return APIError(.internalServerError, code: "internal", "the server failed to handle the request; see its log")
    }
}
