public import Foundation
public import Hummingbird
import Logging
public import Prometheus
public import Storage
public import UnifiedMessaging

/// The HTTP face of mwid: `/api/v1` (bearer-token protected, JSON), its OpenAPI
/// document, `/healthz` and `/metrics`.
public struct AdminAPI: Sendable {
    public let storage: any Storage
    public let token: String
    public let prometheus: PrometheusCollectorRegistry?
    public let version: String
    let clock: @Sendable () -> Date
    let makeID: @Sendable () -> String
    /// Told of every committed change of a mailbox's MWI state (the MWI engine listens).
    let stateChanged: @Sendable (String) -> Void
    /// The live subscriptions of the MWI engine (none without one).
    let subscriptions: (any SubscriptionDirectory)?
    /// Told of mailboxes made pending again in bulk (a forced refresh, a switch): the MWI
    /// engine delivers them after live changes. Without it, `stateChanged` for each.
    let refreshed: (@Sendable ([String]) -> Void)?
    /// The SMS engine (passcodes, and a nudge when a text is queued); none without one.
    let sms: (any SMSGateway)?
    let smsLimits: SMSSetupLimits

    public init(storage: any Storage, token: String, prometheus: PrometheusCollectorRegistry?, version: String,
                clock: @escaping @Sendable () -> Date = { Date() },
                makeID: @escaping @Sendable () -> String = { RandomIdentifier.uuid() },
                stateChanged: @escaping @Sendable (String) -> Void = { _ in },
                refreshed: (@Sendable ([String]) -> Void)? = nil,
                subscriptions: (any SubscriptionDirectory)? = nil,
                sms: (any SMSGateway)? = nil, smsLimits: SMSSetupLimits = SMSSetupLimits()) {
        self.sms = sms
        self.smsLimits = smsLimits
        self.stateChanged = stateChanged
        self.refreshed = refreshed
        self.subscriptions = subscriptions
        self.storage = storage
        self.token = token
        self.prometheus = prometheus
        self.version = version
        self.clock = clock
        self.makeID = makeID
    }

    public static let openAPIPath = "/api/v1/openapi.json"

    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: BearerAuthMiddleware(token: token, openPaths: [Self.openAPIPath]))
        let table = RouteTable(router: router)
        DirectoryRoutes(storage: storage, clock: clock, makeID: makeID, stateChanged: stateChanged, refreshed: refreshed,
                        subscriptions: subscriptions, sms: sms).register(in: table)
        SMSRoutes(storage: storage, clock: clock, makeID: makeID, sms: sms, limits: smsLimits).register(in: table)

        let storage = self.storage, prometheus = self.prometheus, version = self.version
        table.add(.get, "/healthz", "Liveness and storage health", responses: [(200, "Health"), (503, "Error")],
                  authenticated: false) { _, _ in
            do {
                _ = try await storage.dialPlans()
            } catch {
                throw APIError(.serviceUnavailable, code: "storage", "storage is not answering: \(error)")
            }
            return try APIResponses.json(["status": "ok", "version": version])
        }
        table.add(.get, "/metrics", "Prometheus metrics (text format)", responses: [(200, nil)], authenticated: false) { _, _ in
            var bytes: [UInt8] = []
            prometheus?.emit(into: &bytes)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        let document = OpenAPIDocument.make(entries: table.entries + [openAPIEntry], version: version)
        let documentBytes = (try? APICoding.encoder().encode(document)) ?? Data()
        router.get(RouterPath(Self.openAPIPath)) { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: documentBytes)))
        }
        return router
    }

    private var openAPIEntry: RouteTable<BasicRequestContext>.Entry {
        .init(method: .get, path: Self.openAPIPath, summary: "This document", request: nil, responses: [(200, nil)],
              query: [], authenticated: false)
    }
}

/// What the API reads and does of the MWI engine's subscriptions (SPEC §2.7).
public protocol SubscriptionDirectory: Sendable {
    /// The live subscriptions of a mailbox.
    func subscriptions(mailbox: String) async -> [MWISubscriptionStatus]
    func count(mailbox: String) async -> Int
    /// Ends one (the subscriber gets a final NOTIFY); false when the mailbox has no such subscription.
    func end(id: String, mailbox: String) async -> Bool
}
