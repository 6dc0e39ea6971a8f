import Foundation
import HTTPTypes
import Hummingbird

/// JSON in and out of handlers.
enum APIResponses {
    static let maximumBody = 1 << 20

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, location: String? = nil,
                     link: String? = nil) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let location { headers[.location] = location }
        if let link, let name = HTTPField.Name("Link") { headers[name] = link }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: try body(value)))
    }

    /// A JSON body, ending with a new line.
    static func body(_ value: some Encodable) throws -> ByteBuffer {
        var buffer = ByteBuffer(bytes: try APICoding.sharedEncoder.encode(value))
        buffer.writeString("\n")
        return buffer
    }

    static func noContent() -> Response { Response(status: .noContent) }

    /// Reads at most 1 MiB (413 beyond) and decodes it.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumBody)
        return try APICoding.sharedDecoder.decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// A path parameter, percent-decoded (`alice%40example.com` → `alice@example.com`).
    static func parameter(_ name: String, _ context: some RequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    static func queryInt(_ name: String, _ request: Request, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badRequest("must be an integer from \(range.lowerBound) to \(range.upperBound) (got \"\(text)\")", field: name)
        }
        return number
    }

    static func pathComponent(_ text: String) -> String {
        // Letters, digits and "-._~" (nearly every identity) are never encoded.
        let unreserved = text.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
        }
        if unreserved { return text }
        return text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? text
    }
}
