import Crypto
import Foundation
import Hummingbird

/// Requires `Authorization: Bearer TOKEN` on every `/api/v1` call except the OpenAPI
/// document. The comparison takes the same time whatever the guess.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String
    let openPaths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path.hasPrefix("/api/v1"), !openPaths.contains(path) {
            guard let header = request.headers[.authorization] else {
                throw APIError(.unauthorized, code: "unauthorized",
                               "missing Authorization: Bearer TOKEN (the token is in the data folder's admin.token)")
            }
            guard BearerToken.accepts(header, token: token) else {
                throw APIError(.unauthorized, code: "unauthorized", "the bearer token is not valid")
            }
        }
        return try await next(request, context)
    }
}

/// The check of an `Authorization` header against the admin token.
enum BearerToken {
    static func accepts(_ header: String, token: String) -> Bool {
        let bytes = Array(header.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            // (Not what a client sends; judged the way it always was, with Unicode's rules.)
            return header.lowercased().hasPrefix("bearer ")
                && same(Array(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces).utf8), Array(token.utf8))
        }
        // "Bearer" in any case, a space, the token between blanks (space and tab).
        guard bytes.count >= 7, zip(bytes, "bearer ".utf8).allSatisfy({ ((0x41...0x5A).contains($0) ? $0 | 0x20 : $0) == $1 }) else { return false }
        var start = 7, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return same(bytes[start..<end], Array(token.utf8))
    }

    static func same(_ a: some DataProtocol, _ b: some DataProtocol) -> Bool {
        // Compare digests so that neither length nor content leaks through timing.
        let da = SHA256.hash(data: a), db = SHA256.hash(data: b)
        return zip(da, db).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
