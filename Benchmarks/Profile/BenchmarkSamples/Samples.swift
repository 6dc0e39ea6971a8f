/// The messages every micro-benchmark and profiling loop measures, in one place.
public enum Samples {
    /// A typical unsolicited MWI NOTIFY, about 500 bytes.
    public static let notify = Array("""
        NOTIFY sip:1234@pbx.example.com SIP/2.0\r
        Via: SIP/2.0/UDP mwid.example.com:5060;branch=z9hG4bK776asdhds;rport\r
        Max-Forwards: 70\r
        From: <sip:mwid@mwid.example.com>;tag=1928301774\r
        To: <sip:1234@pbx.example.com>\r
        Call-ID: a84b4c76e66710@mwid.example.com\r
        CSeq: 314159 NOTIFY\r
        Contact: <sip:mwid@mwid.example.com:5060;transport=udp>\r
        Event: message-summary\r
        Subscription-State: terminated;reason=noresource\r
        Content-Type: application/simple-message-summary\r
        User-Agent: mwid/0.1\r
        Content-Length: 92\r
        \r
        Messages-Waiting: yes\r
        Message-Account: sip:1234@pbx.example.com\r
        Voice-Message: 2/8 (1/0)\r

        """.utf8)

    /// A SUBSCRIBE from a desk phone through a proxy, with digest credentials: about 1 KB.
    public static let subscribe = Array("""
        SUBSCRIBE sip:1234@mwid.example.com SIP/2.0\r
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---a4b5c6d7e8f90a1b;rport\r
        Via: SIP/2.0/UDP 192.0.2.44:5062;branch=z9hG4bKnashds8;received=192.0.2.44\r
        Max-Forwards: 69\r
        Record-Route: <sip:proxy.example.com;lr>\r
        Contact: <sip:1234@192.0.2.44:5062;transport=udp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000b82a1b2c3>"\r
        To: <sip:1234@mwid.example.com>\r
        From: "Alice Example" <sip:1234@mwid.example.com>;tag=a73kszlfl\r
        Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.44\r
        CSeq: 2 SUBSCRIBE\r
        Event: message-summary\r
        Accept: application/simple-message-summary\r
        Expires: 3600\r
        Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r
        Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri\r
        User-Agent: Grandstream GXP2170 1.0.11.23 (deskphone for the benchmark)\r
        Authorization: Digest username="1234", realm="mwid.example.com", nonce="00000000000003e8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718", uri="sip:1234@mwid.example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001\r
        Content-Length: 0\r
        \r

        """.utf8)
}
