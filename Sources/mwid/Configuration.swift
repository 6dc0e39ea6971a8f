import Foundation
import UnifiedMessaging
import Yams

/// `mwid --config FILE`: the same settings as the flags, in YAML. Flags win over the
/// file, the file over the defaults of SPEC §5. An unknown key is an error that names it.
struct FileConfiguration: Decodable {
    var data: String?
    var storageSync: String?
    var http: String?
    var logLevel: String?
    var sip: SIP?
    var tls: TLS?
    var mwi: MWI?
    var subscriptions: Subscriptions?
    var sms: SMS?

    /// A section of the file: its keys are checked before it is decoded.
    protocol Section: Decodable {
        associatedtype Keys: CodingKey & CaseIterable & RawRepresentable<String>
    }

    struct SIP: Section {
        var udp: [String]?
        var tcp: [String]?
        var tls: [String]?
        var advertisedHost: String?
        var t1: Int?
        var realm: String?
        var trustedPeers: [String]?
        var dnsServer: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case udp, tcp, tls, advertisedHost, t1, realm, trustedPeers, dnsServer }
        typealias Keys = CodingKeys
    }

    struct TLS: Section {
        var certificate: String?
        var key: String?
        var ca: String?
        var clientCertificate: Bool?
        var requireClientCertificate: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case certificate, key, ca, clientCertificate, requireClientCertificate }
        typealias Keys = CodingKeys
    }

    struct MWI: Section {
        var notifyInterval: Double?
        var retryWindow: Double?
        var healthInterval: Double?
        var refreshInterval: Double?
        var notifyWindow: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case notifyInterval, retryWindow, healthInterval, refreshInterval, notifyWindow }
        typealias Keys = CodingKeys
    }

    struct Subscriptions: Section {
        var minExpires: Int?
        var maxExpires: Int?
        var perMailbox: Int?
        var total: Int?
        var requestRate: Double?
        var requestBurst: Double?
        var nonceLifetime: Int?
        var digestAlgorithms: [String]?
        var notifyWindow: Int?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case minExpires, maxExpires, perMailbox, total, requestRate, requestBurst, nonceLifetime, digestAlgorithms, notifyWindow
        }
        typealias Keys = CodingKeys
    }

    struct SMS: Section {
        var carriers: String?
        var retryBackoff: Double?
        var retryWindow: Double?
        var codeLifetime: Double?
        var maximumWrongCodes: Int?
        var passcodesPerHour: Int?
        var responseTimeout: Double?
        var throttleDelay: Double?
        var reconnectBackoff: Double?
        var requestTimeout: Double?
        var smtpIdleTimeout: Double?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case carriers, retryBackoff, retryWindow, codeLifetime, maximumWrongCodes, passcodesPerHour, responseTimeout
            case throttleDelay, reconnectBackoff, requestTimeout, smtpIdleTimeout
        }
        typealias Keys = CodingKeys
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case data, storageSync, http, logLevel, sip, tls, mwi, subscriptions, sms }

    init() {}

    init(from decoder: any Decoder) throws {
        try Self.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        data = try c.decodeIfPresent(String.self, forKey: .data)
        storageSync = try c.decodeIfPresent(String.self, forKey: .storageSync)
        http = try c.decodeIfPresent(String.self, forKey: .http)
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel)
        sip = try Self.section(SIP.self, c, .sip)
        tls = try Self.section(TLS.self, c, .tls)
        mwi = try Self.section(MWI.self, c, .mwi)
        subscriptions = try Self.section(Subscriptions.self, c, .subscriptions)
        sms = try Self.section(SMS.self, c, .sms)
    }

    /// A section, refused when it holds a key it does not know.
    private static func section<S: Section>(_ type: S.Type, _ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> S? {
        guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
        try rejectUnknown(try c.superDecoder(forKey: key), S.Keys.allCases.map(\.rawValue))
        return try c.decode(S.self, forKey: key)
    }

    static func rejectUnknown(_ decoder: any Decoder, _ allowed: [String]) throws {
        let c = try decoder.container(keyedBy: AnyCodingKey.self)
        for key in c.allKeys where !allowed.contains(key.stringValue) {
            let path = (decoder.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw ConfigurationError("unknown setting \"\(path)\" (known here: \(allowed.joined(separator: ", ")))")
        }
    }

    /// Reads and parses `path`; every problem is a `ConfigurationError` naming the file.
    static func load(_ path: String) throws -> FileConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("cannot read the configuration file \(path): \(error.localizedDescription)")
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return FileConfiguration() }
        do {
            return try YAMLDecoder().decode(FileConfiguration.self, from: text)
        } catch let error as ConfigurationError {
            throw ConfigurationError("\(path): \(error.message)")
        } catch DecodingError.dataCorrupted(let context) where context.underlyingError is ConfigurationError {
            throw ConfigurationError("\(path): \(context.underlyingError.map { "\($0)" } ?? "")")
        } catch let DecodingError.typeMismatch(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            let listeners = ["sip.udp", "sip.tcp", "sip.tls"].contains { key.hasPrefix($0) }
            let expected = type == Bool.self ? "true or false" : type == String.self ? "a string"
                : type == Int.self ? "a whole number" : type == Double.self ? "a number"
                : listeners ? "a list of HOST:PORT" : "a list of strings"
            throw ConfigurationError("\(path): \(key) must be \(expected)")
        } catch {
            throw ConfigurationError("\(path) is not valid YAML for mwid: \(error)")
        }
    }
}

struct ConfigurationError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// The carrier catalog file (`sms.carriers`, `--sms-carriers`): the SMS routes, and per
/// locale the mobile operators with the route each one takes.
///
///     routes:
///       - { name: smsc, kind: smpp, host: smsc.example.net, systemId: mwid, password: secret }
///     carriers:
///       fr-FR:
///         - { name: Orange, route: smsc }
///         - { name: Free, route: mail, emailDomain: sms.free.example }
struct SMSCatalogFile: Decodable {
    var routes: [SMSRoute]
    var carriers: [SMSCarrier]

    struct Entry: Decodable {
        var name: String
        var route: String
        var emailDomain: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, route, emailDomain }
        init(from decoder: any Decoder) throws {
            try FileConfiguration.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            route = try c.decode(String.self, forKey: .route)
            emailDomain = try c.decodeIfPresent(String.self, forKey: .emailDomain)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case routes, carriers }

    init(from decoder: any Decoder) throws {
        try FileConfiguration.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        routes = try c.decodeIfPresent([SMSRoute].self, forKey: .routes) ?? []
        let byLocale = try c.decodeIfPresent([String: [Entry]].self, forKey: .carriers) ?? [:]
        carriers = byLocale.sorted { $0.key < $1.key }.flatMap { locale, entries in
            entries.map { SMSCarrier(locale: locale, name: $0.name, route: $0.route, emailDomain: $0.emailDomain) }
        }
    }

    static func load(_ path: String) throws -> SMSCatalogFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("cannot read the carrier catalog \(path): \(error.localizedDescription)")
        }
        do {
            return try YAMLDecoder().decode(SMSCatalogFile.self, from: text)
        } catch let error as ConfigurationError {
            throw ConfigurationError("\(path): \(error.message)")
        } catch let error as DecodingError {
            throw ConfigurationError("\(path): \(Self.explain(error))")
        } catch {
            throw ConfigurationError("\(path) is not a valid carrier catalog: \(error)")
        }
    }

    static func explain(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context.codingPath)) has the wrong type"
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? ConfigurationError { return underlying.message }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
