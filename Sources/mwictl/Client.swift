import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import UnifiedMessaging

/// Talks to mwid's REST API: finds the server and token as SPEC §5 says, sends JSON,
/// and turns the server's JSON errors into a plain message.
struct APIClient {
    let server: String
    let token: String

    /// `--server`/`--token`, else `MWID_URL`/`MWID_TOKEN`, else `http://127.0.0.1:8080`
    /// and `./mwid-data/admin.token`.
    init(options: ServerOptions) throws {
        let environment = ProcessInfo.processInfo.environment
        var server = options.server ?? environment["MWID_URL"] ?? "http://127.0.0.1:8080"
        while server.hasSuffix("/") { server.removeLast() }
        guard server.hasPrefix("http://") || server.hasPrefix("https://") else {
            throw CLIError("--server must be an http:// or https:// URL (got \"\(server)\")")
        }
        self.server = server
        if let token = options.token ?? environment["MWID_TOKEN"] {
            self.token = token
        } else {
            let path = "./mwid-data/admin.token"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIError("no admin token: pass --token, set MWID_TOKEN, or run where \(path) is readable")
            }
            self.token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Sends a request; returns the decoded JSON body of a 2xx answer (`.null` when empty).
    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: JSONValue? = nil) async throws -> JSONValue {
        var url = server + "/api/v1" + path
        let items = query.compactMap { key, value in value.map { "\(key)=\(Self.encodeQuery($0))" } }
        if !items.isEmpty { url += "?" + items.joined(separator: "&") }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            let data = try JSONEncoder().encode(body)
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        // A client of our own: a refused connection fails at once instead of being retried
        // until the request's deadline.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(60))
            bytes = try await response.body.collect(upTo: 64 << 20)
            try? await http.shutdown()
        } catch {
            try? await http.shutdown()
            let reason = "\(error)".contains("Connection refused") ? "connection refused" : "\(error)"
            throw CLIError("cannot reach mwid at \(server): \(reason) (is mwid running? use --server or MWID_URL)")
        }
        let data = Data(bytes.readableBytesView)
        let json = data.isEmpty ? JSONValue.null : (try? JSONDecoder().decode(JSONValue.self, from: data))
        guard (200..<300).contains(response.status.code) else {
            if case .object(let top)? = json, case .object(let error)? = top["error"] {
                let message = error["message"]?.text ?? "error"
                let field = error["field"]?.text
                throw CLIError("\(field.map { "\($0): " } ?? "")\(message) (HTTP \(response.status.code))")
            }
            throw CLIError("mwid answered HTTP \(response.status.code) \(response.status.reasonPhrase)")
        }
        return json ?? .null
    }

    /// ASCII letters and digits only: Foundation's `.alphanumerics` holds every script's
    /// letters, which would go into the URL unencoded.
    static let asciiAlphanumerics = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    static func encodeQuery(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: asciiAlphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// A path segment: a name or identity, percent-encoded.
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: asciiAlphanumerics.union(CharacterSet(charactersIn: "-._~@+"))) ?? text
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension JSONValue {
    /// The value as a person reads it in a table.
    var text: String? {
        switch self {
        case .null: nil
        case .bool(let b): b ? "true" : "false"
        case .number(let n): n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s): s
        case .array(let a): a.compactMap(\.text).joined(separator: ",")
        case .object: "{…}"
        }
    }
}
