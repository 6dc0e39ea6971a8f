/// How text messages leave mwid: an SMSC over SMPP 3.4, an HTTP SMS gateway in the Kannel
/// `sendsms` style, or an operator's email-to-SMS gateway over SMTP (SPEC §3, §5). Each
/// carrier of the catalog names one route.
public enum SMSRouteKind: String, DirectoryEnum {
    case http, smpp, smtp
    public static let fieldName = "kind"
}

public enum SMSHTTPMethod: String, DirectoryEnum {
    case get = "GET"
    case post = "POST"
    public static let fieldName = "method"
}

/// How an SMPP route binds: as a transmitter only, or as a transceiver that also receives
/// delivery receipts.
public enum SMPPBindMode: String, DirectoryEnum {
    case transmitter, transceiver
    public static let fieldName = "bind"
}

/// Whether an SMTP route encrypts with STARTTLS: when the server offers it (the default),
/// always (a server that does not offer it is a failure), or never.
public enum SMTPStartTLS: String, DirectoryEnum {
    case whenOffered, required, never
    public static let fieldName = "startTLS"
}

public struct SMSRoute: Codable, Sendable, Hashable {
    public var name: String
    public var kind: SMSRouteKind
    /// `http`: the request, with `{to}`, `{text}`, `{from}` (and `{username}`, `{password}`)
    /// filled URL-encoded. With POST the query part is sent as a form body.
    public var url: String?
    public var method: SMSHTTPMethod
    /// `http`: the response body must match this regular expression (besides a 2xx status).
    public var successPattern: String?
    /// `http` with POST: the body, its placeholders filled as they are (not encoded).
    /// Without it, the URL's query part is sent as a form.
    public var body: String?
    /// `http`: extra request headers, their placeholders filled as they are (Kannel's
    /// `X-Kannel-To: {to}`…); `Content-Type` sets the body's type.
    public var headers: [String: String]?
    /// `smpp`, `smtp`: the server.
    public var host: String?
    public var port: Int?
    /// `smpp`: the ESME's login.
    public var systemId: String?
    public var systemType: String?
    /// `http`, `smtp`: optional credentials (`http`: `{username}`/`{password}` in the URL,
    /// else HTTP basic authentication).
    public var username: String?
    /// Write-only (SMPP password, SMTP or HTTP password).
    public var password: String?
    /// `smpp`: TLS to the SMSC.
    public var tls: Bool
    /// `smpp`, `http`: the sender shown on the phone (a short code, a number or up to 11
    /// letters).
    public var sourceAddress: String?
    public var bind: SMPPBindMode
    /// `smpp`: requests in flight at once on the bind.
    public var window: Int
    /// `smpp`: seconds between `enquire_link`s on an idle bind.
    public var enquireLinkInterval: Int
    /// `smtp`: the envelope and header sender.
    public var from: String?
    public var startTLS: SMTPStartTLS
    /// `smpp` with TLS, `smtp` with STARTTLS, `https` URLs: PEM CA certificates the server is
    /// verified against (default: the system's roots).
    public var caFile: String?
    /// A longer text is cut, with an ellipsis, to fit this many concatenated parts.
    public var maximumParts: Int

    public init(name: String, kind: SMSRouteKind, url: String? = nil, method: SMSHTTPMethod = .get,
                successPattern: String? = nil, body: String? = nil, headers: [String: String]? = nil, host: String? = nil, port: Int? = nil, systemId: String? = nil,
                systemType: String? = nil, username: String? = nil, password: String? = nil, tls: Bool = false,
                sourceAddress: String? = nil, bind: SMPPBindMode = .transceiver, window: Int = 10,
                enquireLinkInterval: Int = 30, from: String? = nil, startTLS: SMTPStartTLS = .whenOffered,
                caFile: String? = nil, maximumParts: Int = 3) {
        self.name = name
        self.kind = kind
        self.url = url
        self.method = method
        self.successPattern = successPattern
        self.body = body
        self.headers = headers
        self.host = host
        self.port = port ?? Self.defaultPort(kind, tls: tls)
        self.systemId = systemId
        self.systemType = systemType
        self.username = username
        self.password = password
        self.tls = tls
        self.sourceAddress = sourceAddress
        self.bind = bind
        self.window = window
        self.enquireLinkInterval = enquireLinkInterval
        self.from = from
        self.startTLS = startTLS
        self.caFile = caFile
        self.maximumParts = maximumParts
    }

    static func defaultPort(_ kind: SMSRouteKind, tls: Bool) -> Int? {
        switch kind {
        case .http: nil
        case .smpp: tls ? 3550 : 2775
        case .smtp: 25
        }
    }

    /// The fields each kind uses; any other field given is refused by name.
    static func fields(of kind: SMSRouteKind) -> Set<CodingKeys> {
        let common: Set<CodingKeys> = [.name, .kind, .maximumParts, .caFile]
        switch kind {
        case .http: return common.union([.url, .method, .successPattern, .body, .headers, .username, .password, .sourceAddress])
        case .smpp: return common.union([.host, .port, .systemId, .systemType, .password, .tls, .sourceAddress, .bind, .window,
                                         .enquireLinkInterval])
        case .smtp: return common.union([.host, .port, .username, .password, .from, .startTLS])
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, url, method, successPattern, body, headers, host, port, systemId, systemType, username, password, tls
        case sourceAddress, bind, window, enquireLinkInterval, from, startTLS, caFile, maximumParts, hasPassword
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.filter { $0 != .hasPassword }.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        kind = try c.decode(SMSRouteKind.self, forKey: .kind)
        let allowed = Self.fields(of: kind)
        for key in c.allKeys where !allowed.contains(key) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [key],
                                                    debugDescription: "does not apply to a route of kind \(kind)"))
        }
        url = try c.decodeIfPresent(String.self, forKey: .url)
        method = try c.decodeIfPresent(SMSHTTPMethod.self, forKey: .method) ?? .get
        successPattern = try c.decodeIfPresent(String.self, forKey: .successPattern)
        body = try c.decodeIfPresent(String.self, forKey: .body)
        headers = try c.decodeIfPresent([String: String].self, forKey: .headers)
        host = try c.decodeIfPresent(String.self, forKey: .host)
        tls = try c.decodeIfPresent(Bool.self, forKey: .tls) ?? false
        port = try c.decodeInteger(.port) ?? Self.defaultPort(kind, tls: tls)
        systemId = try c.decodeIfPresent(String.self, forKey: .systemId)
        systemType = try c.decodeIfPresent(String.self, forKey: .systemType)
        username = try c.decodeIfPresent(String.self, forKey: .username)
        password = try c.decodeIfPresent(String.self, forKey: .password)
        sourceAddress = try c.decodeIfPresent(String.self, forKey: .sourceAddress)
        bind = try c.decodeIfPresent(SMPPBindMode.self, forKey: .bind) ?? .transceiver
        window = try c.decodeInteger(.window) ?? 10
        enquireLinkInterval = try c.decodeInteger(.enquireLinkInterval) ?? 30
        from = try c.decodeIfPresent(String.self, forKey: .from)
        startTLS = try c.decodeIfPresent(SMTPStartTLS.self, forKey: .startTLS) ?? .whenOffered
        caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
        maximumParts = try c.decodeInteger(.maximumParts) ?? 3
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let fields = Self.fields(of: kind)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(maximumParts, forKey: .maximumParts)
        try c.encodeIfPresent(caFile, forKey: .caFile)
        func put<V: Encodable>(_ value: V?, _ key: CodingKeys) throws {
            if fields.contains(key) { try c.encodeIfPresent(value, forKey: key) }
        }
        try put(url, .url)
        try put(method, .method)
        try put(successPattern, .successPattern)
        try put(body, .body)
        try put(headers, .headers)
        try put(host, .host)
        try put(port, .port)
        try put(systemId, .systemId)
        try put(systemType, .systemType)
        try put(username, .username)
        try put(tls, .tls)
        try put(sourceAddress, .sourceAddress)
        try put(bind, .bind)
        try put(window, .window)
        try put(enquireLinkInterval, .enquireLinkInterval)
        try put(from, .from)
        try put(startTLS, .startTLS)
        if encoder.includesSecrets {
            try c.encodeIfPresent(password, forKey: .password)
        } else {
            try c.encode(password != nil, forKey: .hasPassword)
        }
    }
}

/// A mobile operator of the carrier catalog: which route its subscribers' texts take,
/// and for email-to-SMS the domain their numbers are addressed at.
public struct SMSCarrier: Codable, Sendable, Hashable {
    /// The locale users choose it under (`fr-FR`, `en-US`): its region is the country
    /// national numbers are read in.
    public var locale: String
    public var name: String
    public var route: String
    /// Email-to-SMS: the number is sent to `NUMBER@emailDomain` (digits without `+`).
    public var emailDomain: String?

    public init(locale: String, name: String, route: String, emailDomain: String? = nil) {
        self.locale = locale
        self.name = name
        self.route = route
        self.emailDomain = emailDomain
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case locale, name, route, emailDomain }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        locale = try c.decode(String.self, forKey: .locale)
        name = try c.decode(String.self, forKey: .name)
        route = try c.decode(String.self, forKey: .route)
        emailDomain = try c.decodeIfPresent(String.self, forKey: .emailDomain)
    }
}
