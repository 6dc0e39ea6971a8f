import AdminAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import Testing
import UnifiedMessaging

/// The REST API served by a real HTTP server on loopback, over a real SQLite file.
@Suite struct AdminAPITests {
    static let token = "test-token-0123456789abcdef"

    struct Answer {
        var status: Int
        var json: JSONValue
        var headers: HTTPFields
        var errorField: String? { json["error"]?["field"]?.string }
        var errorCode: String? { json["error"]?["code"]?.string }
        var errorMessage: String { json["error"]?["message"]?.string ?? "" }
    }

    struct API {
        let client: any TestClientProtocol
        let storage: SQLiteStorage

        @discardableResult
        func call(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, token: String? = AdminAPITests.token,
                  raw: ByteBuffer? = nil) async throws -> Answer {
            var headers = HTTPFields()
            if let token { headers[.authorization] = "Bearer \(token)" }
            if body != nil || raw != nil { headers[.contentType] = "application/json" }
            return try await client.execute(uri: path, method: method, headers: headers,
                                            body: raw ?? body.map { ByteBuffer(string: $0) }) { response in
                let bytes = Data(response.body.readableBytesView)
                let json = bytes.isEmpty ? JSONValue.null : (try? JSONDecoder().decode(JSONValue.self, from: bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
                return Answer(status: Int(response.status.code), json: json, headers: response.headers)
            }
        }

        /// Everything the directory holds, as the API shows it: compared before and after a refused write.
        func snapshot() async throws -> [JSONValue] {
            var all: [JSONValue] = []
            for path in ["/api/v1/dialplans", "/api/v1/gateways", "/api/v1/policies", "/api/v1/mailboxes",
                         "/api/v1/mailboxes/alice@example.com/messages", "/api/v1/mailboxes/alice@example.com/mwi"] {
                all.append(try await call(.get, path).json)
            }
            return all
        }

        func seed() async throws {
            #expect(try await call(.post, "/api/v1/dialplans", #"{"name":"Paris","numberOfDigitsInExtension":4,"countryOrRegionCode":"33"}"#).status == 201)
            #expect(try await call(.post, "/api/v1/dialplans", #"{"name":"Secure","numberOfDigitsInExtension":4,"voipSecurity":"Secured"}"#).status == 201)
            #expect(try await call(.post, "/api/v1/policies", #"{"name":"Default","dialPlan":"Paris"}"#).status == 201)
            #expect(try await call(.post, "/api/v1/gateways", #"{"name":"pbx1","address":"192.0.2.10","dialPlans":["Paris"],"username":"mwid","password":"s3cret"}"#).status == 201)
            #expect(try await call(.post, "/api/v1/mailboxes", #"{"identity":"alice@example.com","extension":"1234","dialPlan":"Paris","policy":"Default"}"#).status == 201)
        }
    }

    func withAPI(_ body: @Sendable (API) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        let api = AdminAPI(storage: storage, token: Self.token, prometheus: nil, version: "test")
        let app = Application(router: api.makeRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(API(client: client, storage: storage)) }
    }

    @Test func directoryLifecycleThroughTheAPI() async throws {
        try await withAPI { api in
            try await api.seed()
            let plan = try await api.call(.get, "/api/v1/dialplans/Paris")
            #expect(plan.status == 200 && plan.json["uriType"]?.string == "TelExtn" && plan.json["voipSecurity"]?.string == "Unsecured")

            // The gateway's password is write-only and survives a PATCH that does not name it.
            let gateway = try await api.call(.patch, "/api/v1/gateways/pbx1", #"{"priority":5,"messageWaitingIndicatorAllowed":false}"#)
            #expect(gateway.status == 200 && gateway.json["priority"] == 5 && gateway.json["hasPassword"] == true)
            #expect(gateway.json["password"] == nil && gateway.json["address"]?.string == "192.0.2.10")
            #expect(try await api.storage.gateway(named: "pbx1").password == "s3cret")
            // null clears an optional field; the others stay.
            let cleared = try await api.call(.patch, "/api/v1/dialplans/Paris", #"{"countryOrRegionCode":null}"#)
            #expect(cleared.status == 200 && cleared.json["countryOrRegionCode"] == .null && cleared.json["numberOfDigitsInExtension"] == 4)

            // Messages move the MWI state.
            let deposit = try await api.call(.post, "/api/v1/mailboxes/alice@example.com/messages",
                                             #"{"from":"+33142685300","durationSeconds":12,"urgent":true,"transcript":"Bonjour"}"#)
            #expect(deposit.status == 201)
            let id = try #require(deposit.json["id"]?.string)
            #expect(deposit.headers[.location] == "/api/v1/mailboxes/alice@example.com/messages/\(id)")
            var mwi = try await api.call(.get, "/api/v1/mailboxes/alice%40example.com/mwi")
            #expect(mwi.json["new"] == 1 && mwi.json["urgentNew"] == 1 && mwi.json["messagesWaiting"] == true)
            // pbx1 no longer allows MWI: not delivered, and the reason says why.
            #expect(mwi.json["enabled"] == false && mwi.json["reason"]?.string?.contains("messageWaitingIndicatorAllowed") == true)
            let read = try await api.call(.patch, "/api/v1/mailboxes/alice@example.com/messages/\(id)", #"{"read":true}"#)
            #expect(read.status == 200 && read.json["read"] == true && read.json["urgent"] == true)
            mwi = try await api.call(.get, "/api/v1/mailboxes/alice@example.com/mwi")
            #expect(mwi.json["new"] == 0 && mwi.json["old"] == 1 && mwi.json["urgentOld"] == 1 && mwi.json["messagesWaiting"] == false)
            let list = try await api.call(.get, "/api/v1/mailboxes/alice@example.com/messages")
            #expect(list.json.array?.count == 1 && list.json.array?.first?["from"]?.string == "+33142685300")
            #expect(try await api.call(.delete, "/api/v1/mailboxes/alice@example.com/messages/\(id)").status == 204)
            #expect(try await api.call(.get, "/api/v1/mailboxes/alice@example.com/mwi").json["old"] == 0)

            // Removal in dependency order.
            #expect(try await api.call(.delete, "/api/v1/mailboxes/alice@example.com").status == 204)
            #expect(try await api.call(.delete, "/api/v1/gateways/pbx1").status == 204)
            #expect(try await api.call(.delete, "/api/v1/policies/Default").status == 204)
            #expect(try await api.call(.delete, "/api/v1/dialplans/Paris").status == 204)
            #expect(try await api.call(.get, "/api/v1/dialplans/Paris").status == 404)
            let events = try await api.call(.get, "/api/v1/events?limit=3")
            #expect(events.json.array?.first?["kind"]?.string == "dialplan.removed")
        }
    }

    @Test func everyBadInputIsRefusedWithItsFieldAndChangesNothing() async throws {
        try await withAPI { api in
            try await api.seed()
            let before = try await api.snapshot()
            let eventsBefore = try await api.call(.get, "/api/v1/events?limit=1000").json.array?.count
            let mailboxes = "/api/v1/mailboxes"
            // (method, path, body, status, code, field)
            let cases: [(HTTPRequest.Method, String, String, Int, String, String?)] = [
                (.post, "/api/v1/dialplans", #"{"name":"Lyon","numberOfDigitsInExtension":4"#, 400, "malformed_json", nil),
                (.post, "/api/v1/dialplans", "", 400, "malformed_json", nil),
                (.post, "/api/v1/dialplans", #"{"name":"Lyon","numberOfDigitsInExtension":"4"}"#, 400, "invalid", "numberOfDigitsInExtension"),
                (.post, "/api/v1/dialplans", #"{"name":"Lyon","numberOfDigitsInExtension":4.5}"#, 400, "invalid", "numberOfDigitsInExtension"),
                (.post, "/api/v1/dialplans", #"{"name":"Lyon"}"#, 400, "invalid", "numberOfDigitsInExtension"),
                (.post, "/api/v1/dialplans", #"{"name":"Lyon","numberOfDigitsInExtension":21}"#, 400, "invalid", "numberOfDigitsInExtension"),
                (.post, "/api/v1/dialplans", #"{"name":"Lyon","numberOfDigitsInExtension":4,"uriType":"Sip"}"#, 400, "invalid", "uriType"),
                (.post, "/api/v1/dialplans", #"{"name":"Lyon","numberOfDigitsInExtension":4,"voipSecurity":null,"colour":"red"}"#, 400, "invalid", "colour"),
                (.post, "/api/v1/dialplans", #"["Lyon"]"#, 400, "invalid", nil),
                (.post, "/api/v1/dialplans", #"{"name":"Paris","numberOfDigitsInExtension":4}"#, 409, "conflict", "name"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"not an address","dialPlans":["Paris"]}"#, 400, "invalid", "address"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"192.0.2.11","port":0}"#, 400, "invalid", "port"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"192.0.2.11","port":65536}"#, 400, "invalid", "port"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"192.0.2.11","dialPlans":["Nowhere"]}"#, 404, "not_found", "dialPlans"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"192.0.2.11","transport":"udp","dialPlans":["Secure"]}"#, 400, "invalid", "transport"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"192.0.2.11","status":"On"}"#, 400, "invalid", "status"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"192.0.2.11","messageWaitingIndicatorAllowed":"yes"}"#, 400, "invalid", "messageWaitingIndicatorAllowed"),
                (.post, "/api/v1/gateways", #"{"name":"pbx2","address":"192.0.2.11","dialPlans":"Paris"}"#, 400, "invalid", "dialPlans"),
                (.post, "/api/v1/policies", #"{"name":"Other","dialPlan":"Nowhere"}"#, 404, "not_found", "dialPlan"),
                (.post, "/api/v1/policies", #"{"name":"Other"}"#, 400, "invalid", "dialPlan"),
                (.post, mailboxes, #"{"identity":"bob","extension":"1234","dialPlan":"Paris","policy":"Default"}"#, 409, "conflict", "extension"),
                (.post, mailboxes, #"{"identity":"bob","extension":"123","dialPlan":"Paris","policy":"Default"}"#, 400, "invalid", "extension"),
                (.post, mailboxes, #"{"identity":"bob","extension":"5678","dialPlan":"Paris","policy":"Nope"}"#, 404, "not_found", "policy"),
                (.post, mailboxes, #"{"identity":"bob","extension":"5678","dialPlan":"Paris","policy":"Default","umSMSNotificationOption":"All"}"#, 400, "invalid", "umSMSNotificationOption"),
                (.post, mailboxes, #"{"identity":"alice@example.com","extension":"5678","dialPlan":"Paris","policy":"Default"}"#, 409, "conflict", "identity"),
                (.patch, "/api/v1/mailboxes/alice@example.com", #"{"extension":"99999"}"#, 400, "invalid", "extension"),
                (.patch, "/api/v1/mailboxes/alice@example.com", #"{"identity":"carol"}"#, 400, "invalid", "identity"),
                (.patch, "/api/v1/mailboxes/alice@example.com", #"{"hasSIPPassword":true}"#, 400, "invalid", "hasSIPPassword"),
                (.patch, "/api/v1/mailboxes/alice@example.com", #"{"dialPlan":null}"#, 400, "invalid", "dialPlan"),
                (.patch, "/api/v1/mailboxes/alice@example.com", #"[1]"#, 400, "invalid", nil),
                (.patch, "/api/v1/dialplans/Paris", #"{"numberOfDigitsInExtension":5}"#, 400, "invalid", "numberOfDigitsInExtension"),
                (.patch, "/api/v1/dialplans/Paris", #"{"uriType":"E164"}"#, 400, "invalid", "uriType"),
                (.patch, "/api/v1/gateways/pbx1", #"{"transport":"tcp","dialPlans":["Paris","Secure"]}"#, 400, "invalid", "transport"),
                (.patch, "/api/v1/gateways/nope", #"{"priority":1}"#, 404, "not_found", nil),
                (.delete, "/api/v1/dialplans/Paris", "", 409, "in_use", nil),
                (.delete, "/api/v1/policies/Default", "", 409, "in_use", nil),
                (.delete, "/api/v1/mailboxes/nobody", "", 404, "not_found", nil),
                (.post, "/api/v1/mailboxes/alice@example.com/messages", #"{"from":"+331","durationSeconds":-1}"#, 400, "invalid", "durationSeconds"),
                (.post, "/api/v1/mailboxes/alice@example.com/messages", #"{"durationSeconds":3}"#, 400, "invalid", "from"),
                (.post, "/api/v1/mailboxes/alice@example.com/messages", #"{"from":"+331","durationSeconds":3,"receivedAt":"yesterday"}"#, 400, "invalid", "receivedAt"),
                (.post, "/api/v1/mailboxes/nobody/messages", #"{"from":"+331","durationSeconds":3}"#, 404, "not_found", nil),
                (.patch, "/api/v1/mailboxes/alice@example.com/messages/missing", #"{"read":true}"#, 404, "not_found", nil),
                (.patch, "/api/v1/mailboxes/alice@example.com/messages/missing", #"{"read":"yes"}"#, 400, "invalid", "read"),
                (.get, "/api/v1/mailboxes?limit=0", "", 400, "invalid", "limit"),
                (.get, "/api/v1/mailboxes?limit=ten", "", 400, "invalid", "limit"),
                (.get, "/api/v1/events?after=-3", "", 400, "invalid", "after"),
                (.get, "/api/v1/nothing-here", "", 404, "not_found", nil),
                (.post, "/api/v1/mwi/refresh", "{}", 400, "invalid", nil),
                (.post, "/api/v1/mwi/refresh", #"{"mailbox":"alice@example.com","all":true}"#, 400, "invalid", nil),
                (.post, "/api/v1/mwi/refresh", #"{"gateway":"nope"}"#, 404, "not_found", nil),
                (.post, "/api/v1/mwi/refresh", #"{"everything":true}"#, 400, "invalid", "everything"),
                (.get, "/api/v1/dialplans/Nowhere", "", 404, "not_found", nil),
            ]
            for (method, path, body, status, code, field) in cases {
                let answer = try await api.call(method, path, body.isEmpty ? nil : body)
                let label = "\(method) \(path) \(body) → \(answer.status) \(answer.json)"
                #expect(answer.status == status, "\(label)")
                #expect(answer.errorCode == code, "\(label)")
                #expect(answer.errorField == field, "\(label)")
                #expect(!answer.errorMessage.isEmpty, "\(label)")
            }
            // Over 1 MiB.
            let huge = ByteBuffer(string: #"{"name":""# + String(repeating: "x", count: 1 << 20) + #"","numberOfDigitsInExtension":4}"#)
            let tooLarge = try await api.call(.post, "/api/v1/dialplans", raw: huge)
            #expect(tooLarge.status == 413 && tooLarge.errorCode == "too_large")

            #expect(try await api.snapshot() == before)
            #expect(try await api.call(.get, "/api/v1/events?limit=1000").json.array?.count == eventsBefore)
            #expect(try await api.storage.gateway(named: "pbx1").password == "s3cret")
        }
    }

    @Test func bearerTokenGuardsTheAPIButNotTheDocumentHealthOrMetrics() async throws {
        try await withAPI { api in
            let none = try await api.call(.get, "/api/v1/dialplans", token: nil)
            #expect(none.status == 401 && none.errorCode == "unauthorized" && none.headers[.wwwAuthenticate] != nil)
            #expect(try await api.call(.get, "/api/v1/dialplans", token: "wrong").status == 401)
            #expect(try await api.call(.post, "/api/v1/dialplans", #"{"name":"X","numberOfDigitsInExtension":4}"#, token: "").status == 401)
            #expect(try await api.storage.dialPlans().isEmpty)
            #expect(try await api.call(.get, "/api/v1/openapi.json", token: nil).status == 200)
            #expect(try await api.call(.get, "/healthz", token: nil).json["status"]?.string == "ok")
            #expect(try await api.call(.get, "/metrics", token: nil).status == 200)
        }
    }

    @Test func openAPIDocumentDescribesEveryRoute() async throws {
        try await withAPI { api in
            let document = try await api.call(.get, "/api/v1/openapi.json", token: nil).json
            #expect(document["openapi"]?.string == "3.1.0")
            guard case .object(let paths)? = document["paths"] else {
                Issue.record("no paths")
                return
            }
            let expected: [String: Set<String>] = [
                "/api/v1/dialplans": ["get", "post"], "/api/v1/dialplans/{name}": ["get", "patch", "delete"],
                "/api/v1/gateways": ["get", "post"], "/api/v1/gateways/{name}": ["get", "patch", "delete"],
                "/api/v1/policies": ["get", "post"], "/api/v1/policies/{name}": ["get", "patch", "delete"],
                "/api/v1/mailboxes": ["get", "post"], "/api/v1/mailboxes/{identity}": ["get", "patch", "delete"],
                "/api/v1/mailboxes/{identity}/messages": ["get", "post"],
                "/api/v1/mailboxes/{identity}/messages/{id}": ["get", "patch", "delete"],
                "/api/v1/mailboxes/{identity}/mwi": ["get", "put"], "/api/v1/events": ["get"], "/api/v1/mwi/refresh": ["post"],
                "/api/v1/mailboxes/{identity}/subscriptions": ["get"],
                "/api/v1/mailboxes/{identity}/subscriptions/{id}": ["delete"],
                "/api/v1/sms/routes": ["get", "post"], "/api/v1/sms/routes/{name}": ["get", "patch", "delete"],
                "/api/v1/sms/carriers": ["get", "post"], "/api/v1/sms/carriers/{locale}/{name}": ["get", "patch", "delete"],
                "/api/v1/mailboxes/{identity}/sms": ["get", "patch", "delete"], "/api/v1/mailboxes/{identity}/sms/setup": ["post"],
                "/api/v1/mailboxes/{identity}/sms/resend": ["post"], "/api/v1/mailboxes/{identity}/sms/verify": ["post"],
                "/api/v1/mailboxes/{identity}/sms/history": ["get"], "/api/v1/mailboxes/{identity}/missedcalls": ["get"],
                "/api/v1/calls/missed": ["post"],
                "/api/v1/openapi.json": ["get"], "/healthz": ["get"], "/metrics": ["get"],
            ]
            #expect(Set(paths.keys) == Set(expected.keys))
            for (path, methods) in expected {
                guard case .object(let operations)? = paths[path] else { continue }
                #expect(Set(operations.keys) == methods, "\(path)")
            }
            // Every schema referenced exists.
            let text = String(decoding: try JSONEncoder().encode(document), as: UTF8.self)
            guard case .object(let schemas)? = document["components"]?["schemas"] else {
                Issue.record("no schemas")
                return
            }
            for match in text.matches(of: /#\/components\/schemas\/([A-Za-z]+)/) {
                #expect(schemas[String(match.1)] != nil, "\(match.1)")
            }
        }
    }

    @Test func mailboxListPagesWithALinkToTheNextPage() async throws {
        try await withAPI { api in
            try await api.seed()
            for i in 0..<5 {
                try await api.call(.post, "/api/v1/mailboxes", #"{"identity":"user\#(i)","extension":"200\#(i)","dialPlan":"Paris","policy":"Default"}"#)
            }
            let page = try await api.call(.get, "/api/v1/mailboxes?limit=4")
            #expect(page.json.array?.count == 4)
            let link = try #require(page.headers[HTTPField.Name("Link")!])
            #expect(link.contains("after=user2") && link.contains("rel=\"next\""))
            let next = try await api.call(.get, "/api/v1/mailboxes?limit=4&after=user2")
            #expect(next.json.array?.compactMap { $0["identity"]?.string } == ["user3", "user4"])
            #expect(next.headers[HTTPField.Name("Link")!] == nil)
        }
    }
}

extension JSONValue {
    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    var int: Int? {
        if case .number(let n) = self, n == n.rounded() { return Int(n) }
        return nil
    }
    var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    subscript(index: Int) -> JSONValue? {
        guard let a = array, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
