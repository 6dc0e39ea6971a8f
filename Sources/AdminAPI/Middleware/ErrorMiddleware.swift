import Hummingbird

/// Turns every error into the JSON error of SPEC §5 — including unknown routes — and
/// logs the ones that are mwid's fault (500) with what went wrong.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try APIError.answer(for: error, path: request.uri.path, logger: context.logger).response(from: request, context: context)
        }
    }
}
