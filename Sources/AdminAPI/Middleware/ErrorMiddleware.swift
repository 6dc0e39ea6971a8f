import Hummingbird
import Logging
import Metrics

/// Turns every error into the JSON error of SPEC §5 — including unknown routes — and
/// logs the ones that are mwid's fault (500) with what went wrong.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let answer = APIError.from(error) {
                return try answer.response(from: request, context: context)
            }
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            Counter(label: "mwid_http_internal_errors_total").increment()
            return try APIError(.internalServerError, code: "internal", "the server failed to handle the request; see its log")
                .response(from: request, context: context)
        }
    }
}
