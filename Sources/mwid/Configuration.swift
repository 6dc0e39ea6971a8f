import Foundation
import UnifiedMessaging
import Yams

/// `mwid --config FILE`: the same settings as the flags, in YAML. Flags win over the
/// file, the file over the defaults of SPEC §5. An unknown key is an error that names it.
struct FileConfiguration: Decodable {
    var data: String?
    var http: String?
    var logLevel: String?
    var sip: SIP?
    var tls: TLS?
    var mwi: MWI?
    var subscriptions: Subscriptions?

    struct Subscriptions: Decodable {
        var minExpires: Int?
        var maxExpires: Int?
        var perMailbox: Int?
        var total: Int?
        var requestRate: Double?
        var requestBurst: Double?
        var nonceLifetime: Int?
        var digestAlgorithms: [String]?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case minExpires, maxExpires, perMailbox, total, requestRate, requestBurst, nonceLifetime, digestAlgorithms
        }
        init(from decoder: any Decoder) throws {
            try FileConfiguration.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            minExpires = try c.decodeIfPresent(Int.self, forKey: .minExpires)
            maxExpires = try c.decodeIfPresent(Int.self, forKey: .maxExpires)
            perMailbox = try c.decodeIfPresent(Int.self, forKey: .perMailbox)
            total = try c.decodeIfPresent(Int.self, forKey: .total)
            requestRate = try c.decodeIfPresent(Double.self, forKey: .requestRate)
            requestBurst = try c.decodeIfPresent(Double.self, forKey: .requestBurst)
            nonceLifetime = try c.decodeIfPresent(Int.self, forKey: .nonceLifetime)
            digestAlgorithms = try c.decodeIfPresent([String].self, forKey: .digestAlgorithms)
        }
    }

    struct MWI: Decodable {
        var notifyInterval: Double?
        var retryWindow: Double?
        var healthInterval: Double?
        var refreshInterval: Double?
        enum CodingKeys: String, CodingKey, CaseIterable { case notifyInterval, retryWindow, healthInterval, refreshInterval }
        init(from decoder: any Decoder) throws {
            try FileConfiguration.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            notifyInterval = try c.decodeIfPresent(Double.self, forKey: .notifyInterval)
            retryWindow = try c.decodeIfPresent(Double.self, forKey: .retryWindow)
            healthInterval = try c.decodeIfPresent(Double.self, forKey: .healthInterval)
            refreshInterval = try c.decodeIfPresent(Double.self, forKey: .refreshInterval)
        }
    }

    struct SIP: Decodable {
        var udp: [String]?
        var tcp: [String]?
        var tls: [String]?
        var advertisedHost: String?
        var t1: Int?
        var realm: String?
        var trustedPeers: [String]?
        enum CodingKeys: String, CodingKey, CaseIterable { case udp, tcp, tls, advertisedHost, t1, realm, trustedPeers }
        init(from decoder: any Decoder) throws {
            try FileConfiguration.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            udp = try c.decodeIfPresent([String].self, forKey: .udp)
            tcp = try c.decodeIfPresent([String].self, forKey: .tcp)
            tls = try c.decodeIfPresent([String].self, forKey: .tls)
            advertisedHost = try c.decodeIfPresent(String.self, forKey: .advertisedHost)
            t1 = try c.decodeIfPresent(Int.self, forKey: .t1)
            realm = try c.decodeIfPresent(String.self, forKey: .realm)
            trustedPeers = try c.decodeIfPresent([String].self, forKey: .trustedPeers)
        }
    }

    struct TLS: Decodable {
        var certificate: String?
        var key: String?
        var ca: String?
        var clientCertificate: Bool?
        var requireClientCertificate: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case certificate, key, ca, clientCertificate, requireClientCertificate }
        init(from decoder: any Decoder) throws {
            try FileConfiguration.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            certificate = try c.decodeIfPresent(String.self, forKey: .certificate)
            key = try c.decodeIfPresent(String.self, forKey: .key)
            ca = try c.decodeIfPresent(String.self, forKey: .ca)
            clientCertificate = try c.decodeIfPresent(Bool.self, forKey: .clientCertificate)
            requireClientCertificate = try c.decodeIfPresent(Bool.self, forKey: .requireClientCertificate)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case data, http, logLevel, sip, tls, mwi, subscriptions }

    init() {}

    init(from decoder: any Decoder) throws {
        try Self.rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        data = try c.decodeIfPresent(String.self, forKey: .data)
        http = try c.decodeIfPresent(String.self, forKey: .http)
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel)
        sip = try c.decodeIfPresent(SIP.self, forKey: .sip)
        tls = try c.decodeIfPresent(TLS.self, forKey: .tls)
        mwi = try c.decodeIfPresent(MWI.self, forKey: .mwi)
        subscriptions = try c.decodeIfPresent(Subscriptions.self, forKey: .subscriptions)
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
