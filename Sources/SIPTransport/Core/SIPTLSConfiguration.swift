import NIOSSL

/// TLS settings: the server certificate and key (PEM files), the CA roots peers are
/// verified against (the system's when none are given), an optional client certificate
/// for mutual TLS, and whether inbound peers must present one.
public struct SIPTLSConfiguration: Sendable {
    public var certificateChainFile: String?
    public var privateKeyFile: String?
    /// PEM file of trusted CA certificates; `nil` uses the system roots.
    public var trustRootsFile: String?
    /// Present our certificate when connecting out (mutual TLS with the peer).
    public var presentClientCertificate: Bool
    /// Ask inbound peers for a certificate and verify it against the trust roots.
    public var requireClientCertificate: Bool

    public init(certificateChainFile: String? = nil, privateKeyFile: String? = nil, trustRootsFile: String? = nil,
                presentClientCertificate: Bool = false, requireClientCertificate: Bool = false) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.trustRootsFile = trustRootsFile
        self.presentClientCertificate = presentClientCertificate
        self.requireClientCertificate = requireClientCertificate
    }

    func loadIdentity() throws -> ([NIOSSLCertificateSource], NIOSSLPrivateKeySource)? {
        guard let certificateChainFile, let privateKeyFile else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificateChainFile).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
            return (chain, .privateKey(key))
        } catch {
            throw SIPConfigurationError("cannot load TLS certificate \(certificateChainFile) / key \(privateKeyFile): \(error)")
        }
    }

    func trustRoots() throws -> NIOSSLTrustRoots {
        guard let trustRootsFile else { return .default }
        do {
            return .certificates(try NIOSSLCertificate.fromPEMFile(trustRootsFile))
        } catch {
            throw SIPConfigurationError("cannot load TLS trust roots \(trustRootsFile): \(error)")
        }
    }

    func makeServerContext() throws -> NIOSSLContext {
        guard let (chain, key) = try loadIdentity() else {
            throw SIPConfigurationError("a TLS listener needs a certificate and a private key")
        }
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        if requireClientCertificate {
            config.certificateVerification = .noHostnameVerification
            config.trustRoots = try trustRoots()
        }
        return try NIOSSLContext(configuration: config)
    }

    func makeClientContext() throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateVerification = .fullVerification
        config.trustRoots = try trustRoots()
        if presentClientCertificate, let (chain, key) = try loadIdentity() {
            config.certificateChain = chain
            config.privateKey = key
        }
        return try NIOSSLContext(configuration: config)
    }
}
