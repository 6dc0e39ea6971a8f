import AdminAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import Synchronization
import Testing
import UnifiedMessaging

/// `PUT mailboxes/{id}/mwi` and `mwiSource` over a live API on real SQLite.
@Suite struct PublicationAPITests {
    final class Changed: Sendable {
        let mailboxes = Mutex<[String]>([])
    }

    func withAPI(_ body: @Sendable (AdminAPITests.API, Changed) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-pub-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        let changed = Changed()
        let api = AdminAPI(storage: storage, token: AdminAPITests.token, prometheus: nil, version: "test",
                           stateChanged: { identity in changed.mailboxes.withLock { $0.append(identity) } })
        let app = Application(router: api.makeRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let api = AdminAPITests.API(client: client, storage: storage)
            try await api.seed()
            #expect(try await api.call(.post, "/api/v1/mailboxes",
                                       #"{"identity":"bob@example.com","extension":"1235","dialPlan":"Paris","policy":"Default","mwiSource":"External"}"#).status == 201)
            try await body(api, changed)
        }
    }

    @Test func anExternallyFedMailboxTakesItsCountsFromPut() async throws {
        try await withAPI { api, changed in
            let put = try await api.call(.put, "/api/v1/mailboxes/bob@example.com/mwi", #"{"new":2,"old":5,"urgentNew":1}"#)
            #expect(put.status == 200, "\(put.json)")
            #expect(put.json["new"]?.int == 2 && put.json["old"]?.int == 5 && put.json["urgentNew"]?.int == 1 && put.json["urgentOld"]?.int == 0)
            #expect(put.json["messagesWaiting"]?.bool == true && put.json["mwiSource"]?.string == "External")
            #expect(put.json["publications"]?[0]?["publisher"]?.string == "api" && put.json["publications"]?[0]?["expiresAt"] == nil)
            #expect(changed.mailboxes.withLock { $0 } == ["bob@example.com"])
            // The same counts again: no change for the lamp.
            #expect(try await api.call(.put, "/api/v1/mailboxes/bob@example.com/mwi", #"{"new":2,"old":5,"urgentNew":1}"#).status == 200)
            #expect(changed.mailboxes.withLock { $0.count } == 1)
            let got = try await api.call(.get, "/api/v1/mailboxes/bob@example.com/mwi")
            #expect(got.json["new"]?.int == 2 && got.json["mwiSource"]?.string == "External")
            #expect(try await api.call(.get, "/api/v1/mailboxes/bob@example.com").json["mwiSource"]?.string == "External")
            // A deposit is refused: the counts are another system's.
            let deposit = try await api.call(.post, "/api/v1/mailboxes/bob@example.com/messages", #"{"from":"+33142685300","durationSeconds":3}"#)
            #expect(deposit.status == 409 && deposit.errorField == "mwiSource", "\(deposit.json)")
            #expect(try await api.call(.get, "/api/v1/mailboxes/bob@example.com/mwi").json["new"]?.int == 2)
        }
    }

    @Test func badCountsAndMessageBackedMailboxesAreRefused() async throws {
        try await withAPI { api, changed in
            for (body, status, field) in [
                (#"{"old":1}"#, 400, "new"),
                (#"{"new":1}"#, 400, "old"),
                (#"{"new":-1,"old":0}"#, 400, "new"),
                (#"{"new":1,"old":0,"urgentNew":2}"#, 400, "urgentNew"),
                (#"{"new":1,"old":0,"urgentOld":1}"#, 400, "urgentOld"),
                (#"{"new":1,"old":0,"unread":3}"#, 400, "unread"),
                (#"{"new":"many","old":0}"#, 400, "new"),
                (#"{"new":1.5,"old":0}"#, 400, "new"),
            ] {
                let answer = try await api.call(.put, "/api/v1/mailboxes/bob@example.com/mwi", body)
                #expect(answer.status == status && answer.errorField == field, "\(body): \(answer.json)")
            }
            let backed = try await api.call(.put, "/api/v1/mailboxes/alice@example.com/mwi", #"{"new":1,"old":0}"#)
            #expect(backed.status == 409 && backed.errorField == "mwiSource" && backed.errorMessage.contains("mwiSource Messages"))
            #expect(try await api.call(.put, "/api/v1/mailboxes/nobody@example.com/mwi", #"{"new":1,"old":0}"#).status == 404)
            #expect(changed.mailboxes.withLock { $0.isEmpty })
            #expect(try await api.call(.get, "/api/v1/mailboxes/bob@example.com/mwi").json["new"]?.int == 0)
            // An unknown source is named.
            let unknown = try await api.call(.patch, "/api/v1/mailboxes/alice@example.com", #"{"mwiSource":"Elsewhere"}"#)
            #expect(unknown.status == 400 && unknown.errorField == "mwiSource")
        }
    }
}
