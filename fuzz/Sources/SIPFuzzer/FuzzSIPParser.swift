import SIP

/// One fuzz input: every parser entry point must return or throw, never trap; whatever the
/// datagram parser accepts must serialize into bytes it accepts again, equal.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    if let message = try? SIPParser.parseDatagram(input) {
        // A request's URI is checked when it is parsed and built when asked for: it must
        // build (an opaque URI with no scheme is the fallback that should never happen).
        if let uri = message.requestURI, case .other(let scheme) = uri.scheme, scheme.isEmpty {
            fatalError("a Request-URI the parser accepted does not parse")
        }
        _ = try? message.vias()
        _ = try? message.from()
        _ = try? message.to()
        _ = try? message.cseq()
        _ = try? message.contacts()
        _ = try? message.routes()
        _ = try? message.recordRoutes()
        _ = try? message.maxForwards()
        _ = try? message.expires()
        _ = try? message.minExpires()
        _ = try? message.event()
        _ = try? message.subscriptionState()
        _ = try? message.contentType()
        _ = try? message.allow()
        _ = try? message.accept()
        for h in (try? message.wwwAuthenticate()) ?? [] { _ = try? DigestChallenge(h) }
        for h in (try? message.authorization()) ?? [] { _ = try? DigestCredentials(h) }
        _ = message.makeResponse(statusCode: 200, toTag: "fuzz").serialize()
        let bytes = message.serialize()
        guard let again = try? SIPParser.parseDatagram(bytes) else {
            fatalError("serialized message does not parse again")
        }
        guard again == message, again.serialize() == bytes else {
            fatalError("round trip changed the message")
        }
    }
    var stream = SIPStreamParser()
    _ = try? stream.parse(input)
    _ = try? MessageSummary(parsing: input)
    let text = String(decoding: input, as: UTF8.self)
    _ = try? SIPURI(parsing: text)
    _ = try? SIPNameAddress(parsing: text)
    _ = try? SIPVia(parsing: text)
    _ = try? SIPAuthHeader(parsing: text)
    return 0
}

// SwiftPM links an executable's entry point as `<Target>_main`, so libFuzzer's own main()
// is not used; hand control to its driver from there instead.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("SIPFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv, fuzzSIPParser)
}
