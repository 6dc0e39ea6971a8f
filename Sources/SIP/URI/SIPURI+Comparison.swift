extension SIPURI {
    /// URI equivalence of RFC 3261 §19.1.4 (for sip and sips; tel compares numbers without
    /// visual separators and parameters; other schemes compare case-insensitively).
    ///
    /// - user and password compare case-sensitively (after unescaping), host
    ///   case-insensitively; a port given in only one URI breaks equality, and so does a
    ///   `user`, `ttl`, `method`, `maddr` or `transport` parameter (the RFC's own examples
    ///   treat `transport` so); other parameters in only one URI are ignored; URI headers
    ///   must match in both.
    public func isEquivalent(to other: SIPURI) -> Bool {
        guard scheme == other.scheme else { return false }
        switch scheme {
        case .tel:
            let strip: (String?) -> String = { ($0 ?? "").filter { !"-.()".contains($0) } }
            return strip(user) == strip(other.user) && parameters.equalsIgnoringCase(other.parameters)
        case .other:
            return ASCII.equalsIgnoringCase((opaque ?? "").utf8, (other.opaque ?? "").utf8)
        case .sip, .sips:
            break
        }
        guard user == other.user, password == other.password, port == other.port,
              ASCII.equalsIgnoringCase(host.utf8, other.host.utf8)
        else { return false }
        for p in parameters {
            if let theirs = other.parameters[p.name] {
                switch (p.value, theirs) {
                case (nil, nil): continue
                case let (a?, b?) where ASCII.equalsIgnoringCase(a.utf8, b.utf8): continue
                default: return false
                }
            } else if Self.mustMatchParameters.contains(ASCII.lowercased(p.name)) {
                return false
            }
        }
        for p in other.parameters where parameters[p.name] == nil {
            if Self.mustMatchParameters.contains(ASCII.lowercased(p.name)) { return false }
        }
        guard headers.count == other.headers.count else { return false }
        for h in headers {
            guard other.headers.contains(where: {
                ASCII.equalsIgnoringCase($0.name.utf8, h.name.utf8) && $0.value == h.value
            }) else { return false }
        }
        return true
    }

    private static let mustMatchParameters: Set<String> = ["user", "ttl", "method", "maddr", "transport"]
}
