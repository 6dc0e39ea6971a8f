import Foundation

/// The rules of SMS routes, carriers, mailbox text settings and missed-call reports.
extension DirectoryValidation {
    public static func check(_ route: SMSRoute) throws(DirectoryError) {
        try checkName(route.name)
        guard (1...16).contains(route.maximumParts) else {
            throw .invalid("maximumParts", "must be 1 to 16 (got \(route.maximumParts))")
        }
        if let file = route.caFile, file.isEmpty { throw .invalid("caFile", "must be a path to a PEM file, not empty") }
        if let password = route.password, password.isEmpty || password.contains(where: \.isNewline) {
            throw .invalid("password", "must not be empty or hold line breaks")
        }
        switch route.kind {
        case .http:
            guard let url = route.url else { throw .invalid("url", "is required for an http route") }
            let lower = url.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), let parsed = URL(string: url.replacingOccurrences(of: "{", with: "%7B")
                .replacingOccurrences(of: "}", with: "%7D")), parsed.host != nil else {
                throw .invalid("url", "must be an http:// or https:// URL (got \"\(url)\")")
            }
            let whole = url + (route.body ?? "") + (route.headers ?? [:]).values.joined()
            for placeholder in ["{to}", "{text}"] where !whole.contains(placeholder) {
                throw .invalid("url", "must hold the \(placeholder) placeholder (or the body or a header must)")
            }
            try checkPlaceholders(url, field: "url")
            if let body = route.body {
                guard route.method == .post else { throw .invalid("body", "applies to POST routes only") }
                try checkPlaceholders(body, field: "body")
            }
            for (name, value) in route.headers ?? [:] {
                guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) }) else {
                    throw .invalid("headers", "\"\(name)\" is not a header name")
                }
                guard !value.contains(where: \.isNewline), !value.contains("{text}") else {
                    throw .invalid("headers.\(name)", "must be one line, without {text} (the text goes in the URL or the body)")
                }
                try checkPlaceholders(value, field: "headers.\(name)")
            }
            if let pattern = route.successPattern {
                guard (try? Regex(pattern)) != nil else { throw .invalid("successPattern", "is not a valid regular expression") }
            }
            if route.password != nil && route.username == nil { throw .invalid("username", "is required with a password") }
            try checkSender(route.sourceAddress)
        case .smpp:
            try checkServer(route)
            guard let systemId = route.systemId, (1...15).contains(systemId.utf8.count), systemId.allSatisfy(\.isASCII) else {
                throw .invalid("systemId", "is required: 1 to 15 ASCII characters (SMPP 3.4)")
            }
            if let password = route.password, password.utf8.count > 8 || !password.allSatisfy(\.isASCII) {
                throw .invalid("password", "must be at most 8 ASCII characters (SMPP 3.4)")
            }
            if let type = route.systemType, type.utf8.count > 12 || !type.allSatisfy(\.isASCII) {
                throw .invalid("systemType", "must be at most 12 ASCII characters (SMPP 3.4)")
            }
            guard (1...100).contains(route.window) else { throw .invalid("window", "must be 1 to 100 (got \(route.window))") }
            guard (1...3600).contains(route.enquireLinkInterval) else {
                throw .invalid("enquireLinkInterval", "must be 1 to 3600 seconds (got \(route.enquireLinkInterval))")
            }
            try checkSender(route.sourceAddress)
        case .smtp:
            try checkServer(route)
            guard let from = route.from, isMailAddress(from) else {
                throw .invalid("from", "is required: the sender's email address, such as voicemail@example.com")
            }
            if route.password != nil && route.username == nil { throw .invalid("username", "is required with a password") }
            if let username = route.username, username.isEmpty || username.contains(where: \.isNewline) {
                throw .invalid("username", "must not be empty or hold line breaks")
            }
        }
    }

    /// Every `{name}` of an HTTP route's template is one mwid fills.
    static func checkPlaceholders(_ template: String, field: String) throws(DirectoryError) {
        let known: Set<String> = ["to", "text", "from", "username", "password", "coding"]
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { throw .invalid(field, "has a { without its }") }
            let name = String(rest[rest.index(after: open)..<close])
            guard known.contains(name) else {
                throw .invalid(field, "has an unknown placeholder {\(name)} (known: {to}, {text}, {from}, {coding}, {username}, {password})")
            }
            rest = rest[rest.index(after: close)...]
        }
    }

    static func checkServer(_ route: SMSRoute) throws(DirectoryError) {
        guard let host = route.host else { throw .invalid("host", "is required for an \(route.kind) route") }
        try checkAddress(host, field: "host")
        guard let port = route.port, (1...65535).contains(port) else {
            throw .invalid("port", "must be between 1 and 65535 (got \(route.port.map(String.init) ?? "none"))")
        }
    }

    /// A sender address: digits (a short code or a number, `+` allowed) up to 20, or up to
    /// 11 GSM letters and digits.
    static func checkSender(_ sender: String?) throws(DirectoryError) {
        guard let sender else { return }
        let numeric = sender.drop(while: { $0 == "+" }).allSatisfy(\.isASCIIDigit)
        if numeric && (1...20).contains(sender.count) { return }
        guard (1...11).contains(sender.count), sender.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == " " || $0 == "-") }) else {
            throw .invalid("sourceAddress", "must be digits (up to 20) or up to 11 letters and digits (got \"\(sender)\")")
        }
    }

    public static func isMailAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64,
              parts[0].allSatisfy({ $0.isASCII && !$0.isWhitespace && !"<>()[],;:\\\"".contains($0) }) else { return false }
        return isHostName(String(parts[1]))
    }

    /// `route` is the route the carrier names, when it exists.
    public static func check(_ carrier: SMSCarrier, route: SMSRoute?) throws(DirectoryError) {
        guard let region = PhoneNumber.region(ofLocale: carrier.locale), PhoneNumber.callingCodes[region] != nil else {
            throw .invalid("locale", "must be a locale with a country mwid knows, such as fr-FR or en-US (got \"\(carrier.locale)\")")
        }
        try checkName(carrier.name)
        guard let route else { throw .notFound("SMS route", carrier.route, field: "route") }
        if route.kind == .smtp {
            guard let domain = carrier.emailDomain, isHostName(domain) else {
                throw .invalid("emailDomain", "is required for a carrier on an smtp route: the operator's email-to-SMS domain, such as sms.example.net")
            }
        } else if carrier.emailDomain != nil {
            throw .invalid("emailDomain", "applies only to carriers on an smtp route (route \(route.name) is \(route.kind))")
        }
    }

    public static func check(_ quietHours: QuietHours?, timeZone: String?) throws(DirectoryError) {
        if let quietHours {
            for (field, value) in [("quietHours.start", quietHours.start), ("quietHours.end", quietHours.end)]
            where QuietHours.minutes(value) == nil {
                throw .invalid(field, "must be a time HH:MM from 00:00 to 23:59 (got \"\(value)\")")
            }
            if quietHours.start == quietHours.end { throw .invalid("quietHours", "must not start and end at the same time") }
        }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            throw .invalid("timeZone", "must be an IANA time zone such as Europe/Paris (got \"\(timeZone)\")")
        }
    }

    public static func check(_ report: MissedCallReport) throws(DirectoryError) {
        guard !report.from.trimmingCharacters(in: .whitespaces).isEmpty, report.from.count <= 256 else {
            throw .invalid("from", "must be a caller number or URI of 1 to 256 characters")
        }
        switch (report.mailbox, report.extension, report.dialPlan) {
        case (.some, nil, nil), (nil, .some, .some): return
        case (nil, .some, nil): throw .invalid("dialPlan", "is required with extension")
        case (nil, nil, .some): throw .invalid("extension", "is required with dialPlan")
        case (nil, nil, nil): throw .invalid("mailbox", "give mailbox, or extension and dialPlan")
        default: throw .invalid("mailbox", "give mailbox, or extension and dialPlan, not both")
        }
    }
}
