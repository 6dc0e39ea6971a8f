import Hummingbird

/// Registers routes and remembers what each one is, so that the OpenAPI document is made
/// from the very table the router was built from: a route cannot exist undocumented.
final class RouteTable<Context: RequestContext>: @unchecked Sendable {
    // Mutated only while the router is being built, before the server starts.
    struct Entry: Sendable {
        var method: HTTPRequest.Method
        /// OpenAPI form: `/api/v1/mailboxes/{identity}`.
        var path: String
        var summary: String
        var request: String?
        /// Status → schema name (nil: no body).
        var responses: [(Int, String?)]
        var query: [(name: String, description: String)]
        var authenticated: Bool
    }

    private(set) var entries: [Entry] = []
    let router: Router<Context>

    init(router: Router<Context>) { self.router = router }

    func add(_ method: HTTPRequest.Method, _ path: String, _ summary: String, request: String? = nil,
             responses: [(Int, String?)], query: [(name: String, description: String)] = [], authenticated: Bool = true,
             handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        entries.append(Entry(method: method, path: path, summary: summary, request: request, responses: responses,
                             query: query, authenticated: authenticated))
        // {name} → :name for the router.
        let routerPath = path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : part
        }.joined(separator: "/")
        router.on(RouterPath(routerPath), method: method, use: handler)
    }
}
