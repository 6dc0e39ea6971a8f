import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
public import UnifiedMessaging

/// Fills an HTTP route's URL template (Kannel `sendsms` style). Pure.
public enum SMSURLTemplate {
    /// RFC 3986 percent-encoding of everything but the unreserved characters, on UTF-8.
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// The template with each `{name}` replaced by its value, encoded (or as it is).
    public static func fill(_ template: String, _ values: [String: String], encoded: Bool = true) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            out += values[name].map { encoded ? encode($0) : $0 } ?? ""
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// Sends a text as one HTTP request to a gateway such as Kannel's `sendsms`: the gateway
/// concatenates long texts itself. A 2xx answer (whose body matches the route's
/// `successPattern`, when it has one) is success; 4xx (but 408 and 429) is permanent; the
/// rest is retried — except an answer that never came back to a request that left,
/// which is not sent again.
public final class HTTPSMSSender: Sendable {
    public let route: SMSRoute
    private let client: HTTPClient
    private let requestTimeout: Duration

    public init(route: SMSRoute, connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(15)) throws {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = TimeAmount(connectTimeout)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        if let file = route.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            configuration.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.route = route
        self.requestTimeout = requestTimeout
    }

    public func send(_ text: SMSText, to number: String) async -> SMSSendOutcome {
        guard let template = route.url else { return .failed(.permanent("the route has no url")) }
        let values = [
            "to": number, "text": text.text, "from": route.sourceAddress ?? "", "coding": text.coding == .gsm7 ? "0" : "2",
            "username": route.username ?? "", "password": route.password ?? "",
        ]
        let url = SMSURLTemplate.fill(template, values)
        let headers = (route.headers ?? [:]).mapValues { SMSURLTemplate.fill($0, values, encoded: false) }
        var request: HTTPClientRequest
        if route.method == .post, let body = route.body {
            request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            request.body = .bytes(ByteBuffer(string: SMSURLTemplate.fill(body, values, encoded: false)))
        } else if route.method == .post, let mark = url.firstIndex(of: "?") {
            request = HTTPClientRequest(url: String(url[..<mark]))
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: String(url[url.index(after: mark)...])))
        } else {
            request = HTTPClientRequest(url: url)
            request.method = route.method == .post ? .POST : .GET
        }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let templates = template + (route.body ?? "") + (route.headers ?? [:]).values.joined()
        let usesCredentials = templates.contains("{username}") || templates.contains("{password}")
        if !usesCredentials, let username = route.username {
            let token = Data("\(username):\(route.password ?? "")".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(token)")
        }
        // What is logged never holds the text or the credentials.
        let shown = String(template.prefix(while: { $0 != "?" }))
        do {
            let response = try await client.execute(request, timeout: TimeAmount(requestTimeout))
            let body = try await response.body.collect(upTo: 64 * 1024)
            let answer = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            let status = Int(response.status.code)
            let summary = "\(shown) answered \(status) \(response.status.reasonPhrase)\(answer.isEmpty ? "" : ": \(answer.prefix(200))")"
            switch status {
            case 200..<300:
                if let pattern = route.successPattern, let regex = try? Regex(pattern), answer.firstMatch(of: regex) == nil {
                    return .failed(.permanent("\(summary) (not matching the success pattern)"))
                }
                return SMSSendOutcome(accepted: text.parts.count, messageIDs: [])
            case 408, 429, 500...:
                return .failed(.temporary(summary))
            default:
                return .failed(.permanent(summary))
            }
        } catch let error as HTTPClientError where [.readTimeout, .remoteConnectionClosed, .deadlineExceeded].contains(error) {
            return .failed(.unknown("\(shown): no answer (\(error))"))
        } catch {
            return .failed(.temporary("\(shown): \(error)"))
        }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }
}
