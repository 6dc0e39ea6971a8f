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
        header.lowercased().hasPrefix("bearer ") && same(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), token)
    }

    static func same(_ a: String, _ b: String) -> Bool {
        // Compare digests so that neither length nor content leaks through timing.
        let da = SHA256.hash(data: Data(a.utf8)), db = SHA256.hash(data: Data(b.utf8))
        return zip(da, db).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
