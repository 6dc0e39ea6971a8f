import ArgumentParser
import Foundation
import UnifiedMessaging

/// `mwictl sms route …` and `mwictl sms carrier …`: the delivery routes and the carrier catalog.
struct SMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sms",
        abstract: "Text-message delivery: routes (SMPP, HTTP, email-to-SMS) and the carrier catalog.",
        discussion: """
            Examples:
              mwictl sms route new smsc --kind smpp --host smsc.example.net --system-id mwid --password secret
              mwictl sms route new kannel --kind http --url 'http://127.0.0.1:13013/cgi-bin/sendsms?username=mwi&password=secret&to={to}&text={text}'
              mwictl sms carrier new fr-FR Orange --route smsc
              mwictl sms carrier list --locale fr-FR
            """,
        subcommands: [NounCommand<SMSRouteNoun>.self, CarrierCommand.self])
}

enum SMSRouteNoun: DirectoryNoun {
    static let command = "route", what = "SMS route", plural = "SMS routes", cmdlets = "SMPP, HTTP or SMTP"
    static let path = "/sms/routes", key = "name", listFilters = false
    static let columns: [(header: String, key: String)] = [
        ("NAME", "name"), ("KIND", "kind"), ("HOST", "host"), ("PORT", "port"), ("URL", "url"), ("PARTS", "maximumParts"),
    ]
    static let newExample = "mwictl sms route new smsc --kind smpp --host 192.0.2.20 --system-id mwid --password secret"
    static let setExample = "mwictl sms route set smsc --window 20"

    struct Fields: FieldOptions {
        @Option(help: "smpp, http or smtp.") var kind: String?
        @Option(help: "http: URL with {to}, {text}, {from}, {coding}, {username}, {password}.") var url: String?
        @Option(help: "http: GET or POST.") var method: String?
        @Option(help: "http: regular expression a successful answer matches.") var successPattern: String?
        @Option(help: "http POST: the body template (default: a form of to, text and from).") var body: String?
        @Option(name: .customLong("header"), help: "http: a header template, \"NAME: VALUE\"; repeat for more (replaces them all).")
        var headers: [String] = []
        @Option(help: "smpp, smtp: the server.") var host: String?
        @Option(help: "smpp, smtp: its port.") var port: Int?
        @Option(help: "smpp: the ESME login.") var systemId: String?
        @Option(help: "smpp: system_type.") var systemType: String?
        @Option(help: "http, smtp: user name.") var username: String?
        @Option(help: "The password (never shown again).") var password: String?
        @Option(help: "smpp: true for TLS.") var tls: Bool?
        @Option(help: "smpp, http: the sender shown on the phone.") var sourceAddress: String?
        @Option(help: "smpp: transceiver (receipts) or transmitter.") var bind: String?
        @Option(help: "smpp: requests in flight (default 10).") var window: Int?
        @Option(help: "smpp: seconds of idleness before enquire_link (default 30).") var enquireLinkInterval: Int?
        @Option(help: "smtp: the sender address.") var from: String?
        @Option(name: .customLong("start-tls"), help: "smtp: whenOffered, required or never.") var startTLS: String?
        @Option(help: "PEM CA file for the server's certificate.") var caFile: String?
        @Option(help: "Parts a long text may take (default 3).") var maximumParts: Int?
        func fields() throws -> [String: JSONValue] {
            var named: [String: JSONValue] = [:]
            for header in headers {
                guard let colon = header.firstIndex(of: ":"), colon != header.startIndex else {
                    throw CLIError("--header must be NAME: VALUE (got \"\(header)\")")
                }
                named[String(header[..<colon]).trimmingCharacters(in: .whitespaces)] =
                    .string(String(header[header.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            }
            return compact(["kind": kind.json, "url": url.json, "method": method.json, "successPattern": successPattern.json,
                             "body": body.json, "headers": headers.isEmpty ? nil : .object(named),
                             "host": host.json, "port": port.json, "systemId": systemId.json, "systemType": systemType.json,
                             "username": username.json, "password": password.json, "tls": tls.json, "sourceAddress": sourceAddress.json,
                             "bind": bind.json, "window": window.json, "enquireLinkInterval": enquireLinkInterval.json, "from": from.json,
                             "startTLS": startTLS.json, "caFile": caFile.json, "maximumParts": maximumParts.json])
        }
    }
}

struct CarrierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carrier", abstract: "The carrier catalog: mobile operators by locale, and the route each one takes.",
        subcommands: [List.self, New.self, Set.self, Remove.self])

    static let columns: [(header: String, key: String)] = [("LOCALE", "locale"), ("NAME", "name"), ("ROUTE", "route"), ("EMAIL DOMAIN", "emailDomain")]

    static func path(_ locale: String, _ name: String) -> String {
        "/sms/carriers/\(APIClient.segment(locale))/\(APIClient.segment(name))"
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the carriers.", discussion: "Example:\n  mwictl sms carrier list --locale fr-FR")
        @OptionGroup var options: ServerOptions
        @Option(help: "Only this locale's.") var locale: String?
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                Output.print(try await client.send(.GET, "/sms/carriers", query: [("locale", locale)]), json: options.json, columns: CarrierCommand.columns)
            }
        }
    }

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a carrier.",
                                                        discussion: "Example:\n  mwictl sms carrier new fr-FR Free --route mail --email-domain sms.free.example")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The locale (fr-FR, en-US…).") var locale: String
        @Argument(help: "The operator's name.") var name: String
        @Option(help: "The SMS route its texts take.") var route: String
        @Option(help: "smtp routes: the operator's email-to-SMS domain.") var emailDomain: String?
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let body = compact(["locale": .string(locale), "name": .string(name), "route": .string(route), "emailDomain": emailDomain.json])
                Output.print(try await client.send(.POST, "/sms/carriers", body: .object(body)), json: options.json, columns: CarrierCommand.columns)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a carrier's route or email domain.",
                                                        discussion: "Example:\n  mwictl sms carrier set fr-FR Orange --route smsc2")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The locale.") var locale: String
        @Argument(help: "The operator's name.") var name: String
        @Option(help: "The SMS route its texts take.") var route: String?
        @Option(help: "smtp routes: the email-to-SMS domain (\"\" clears it).") var emailDomain: String?
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let body = compact(["route": route.json, "emailDomain": emailDomain.json])
                if body.isEmpty { throw CLIError("nothing to change: give --route or --email-domain") }
                Output.print(try await client.send(.PATCH, CarrierCommand.path(locale, name), body: .object(body)), json: options.json,
                             columns: CarrierCommand.columns)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a carrier.", discussion: "Example:\n  mwictl sms carrier remove fr-FR Orange")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The locale.") var locale: String
        @Argument(help: "The operator's name.") var name: String
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                try await client.send(.DELETE, CarrierCommand.path(locale, name))
                if options.json { Output.printJSON(["removed": .string(name)]) } else { print("removed carrier \(name) (\(locale))") }
            }
        }
    }
}

/// `mwictl mailbox sms setup|verify|resend|status|set|disable|history ID`: an administrator
/// helping a user through the set-up of OWA's Options > Phone > Voice mail > Notifications.
struct MailboxSMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sms",
        abstract: "A mailbox's text messaging: set-up with a passcode, state, quiet hours, history.",
        discussion: """
            Examples:
              mwictl mailbox sms setup alice@example.com --locale fr-FR --carrier Orange --number "06 12 34 56 78"
              mwictl mailbox sms verify alice@example.com --code 123456
              mwictl mailbox sms status alice@example.com
              mwictl mailbox sms set alice@example.com --quiet-hours 22:00-07:00 --time-zone Europe/Paris
              mwictl mailbox sms disable alice@example.com
            """,
        subcommands: [Setup.self, Verify.self, Resend.self, Status.self, Set.self, Disable.self, History.self])

    static func base(_ mailbox: String) -> String { "/mailboxes/\(APIClient.segment(mailbox))/sms" }

    static func show(_ status: JSONValue, json: Bool) {
        if json {
            Output.printJSON(status)
            return
        }
        Output.print(status, json: false, columns: [("state", "state"), ("number", "number"), ("carrier", "carrier"), ("locale", "locale"),
                                                    ("umSMSNotificationOption", "umSMSNotificationOption"),
                                                    ("allowSMSNotification", "allowSMSNotification")])
        if case .object(let active)? = status["active"] {
            print("voice mail texts: \(active["voiceMail"]?.text ?? "-"), missed-call texts: \(active["missedCalls"]?.text ?? "-") (\(active["reason"]?.text ?? ""))")
        }
        if case .object(let quiet)? = status["quietHours"] {
            print("quiet hours: \(quiet["start"]?.text ?? "?")–\(quiet["end"]?.text ?? "?") \(status["timeZone"]?.text ?? "UTC")")
        }
        if case .object(let pending)? = status["pending"] {
            print("set-up waiting for the passcode sent to \(pending["number"]?.text ?? "?"): expires \(pending["expiresAt"]?.text ?? "?"), \(pending["triesLeft"]?.text ?? "?") tries left")
        }
        print("passcodes left this hour: \(status["passcodesLeftThisHour"]?.text ?? "-")")
    }

    struct Setup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the number and text it a six-digit passcode.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Option(help: "The user's locale, e.g. fr-FR (its country reads national numbers).") var locale: String
        @Option(help: "The mobile operator, as in the carrier catalog.") var carrier: String
        @Option(help: "The mobile number as the user gives it.") var number: String
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let body: JSONValue = .object(["locale": .string(locale), "carrier": .string(carrier), "number": .string(number)])
                let status = try await client.send(.POST, "\(MailboxSMSCommand.base(mailbox))/setup", body: body)
                if !options.json { print("passcode sent; ask the user for it, then: mwictl mailbox sms verify \(mailbox) --code CODE") }
                MailboxSMSCommand.show(status, json: options.json)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Complete the set-up with the passcode the user received.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Option(help: "The six digits.") var code: String
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let status = try await client.send(.POST, "\(MailboxSMSCommand.base(mailbox))/verify", body: .object(["code": .string(code)]))
                MailboxSMSCommand.show(status, json: options.json)
            }
        }
    }

    struct Resend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Text a new passcode (the previous one stops working).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                MailboxSMSCommand.show(try await client.send(.POST, "\(MailboxSMSCommand.base(mailbox))/resend"), json: options.json)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the state (the number masked), set-up in progress, quiet hours.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                MailboxSMSCommand.show(try await client.send(.GET, MailboxSMSCommand.base(mailbox)), json: options.json)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the quiet hours (texts held until they end) or the time zone.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Option(help: "HH:MM-HH:MM, e.g. 22:00-07:00 (\"\" removes them).") var quietHours: String?
        @Option(help: "IANA time zone, e.g. Europe/Paris (\"\" means UTC).") var timeZone: String?
        func run() async throws {
            try await runReporting {
                var body: [String: JSONValue] = [:]
                if let quietHours {
                    if quietHours.isEmpty {
                        body["quietHours"] = .null
                    } else {
                        let ends = quietHours.split(separator: "-").map(String.init)
                        guard ends.count == 2 else { throw CLIError("--quiet-hours must be HH:MM-HH:MM, such as 22:00-07:00 (got \"\(quietHours)\")") }
                        body["quietHours"] = .object(["start": .string(ends[0]), "end": .string(ends[1])])
                    }
                }
                if let timeZone { body["timeZone"] = timeZone.isEmpty ? .null : .string(timeZone) }
                if body.isEmpty { throw CLIError("nothing to change: give --quiet-hours or --time-zone") }
                let client = try APIClient(options: options)
                MailboxSMSCommand.show(try await client.send(.PATCH, MailboxSMSCommand.base(mailbox), body: .object(body)), json: options.json)
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn text messaging off: the number and any set-up are forgotten.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                try await client.send(.DELETE, MailboxSMSCommand.base(mailbox))
                if options.json { Output.printJSON(["disabled": .string(mailbox)]) } else { print("text messaging turned off for \(mailbox)") }
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The mailbox's texts, newest first, and what became of each.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Option(help: "At most this many (default 20).") var limit: Int?
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let rows = try await client.send(.GET, "\(MailboxSMSCommand.base(mailbox))/history", query: [("limit", limit.map(String.init))])
                Output.print(rows, json: options.json, columns: [("CREATED", "createdAt"), ("PURPOSE", "purpose"), ("NUMBER", "number"),
                                                                 ("ROUTE", "route"), ("STATUS", "status"), ("ATTEMPTS", "attempts"),
                                                                 ("ERROR", "lastError")])
            }
        }
    }
}

/// `mwictl mailbox missedcalls ID`.
struct MissedCallsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "missedcalls", abstract: "A mailbox's missed calls, newest first.",
        discussion: "Example:\n  mwictl mailbox missedcalls alice@example.com")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The mailbox's identity.") var mailbox: String
    @Option(help: "At most this many (default 50).") var limit: Int?
    func run() async throws {
        try await runReporting {
            let client = try APIClient(options: options)
            let rows = try await client.send(.GET, "/mailboxes/\(APIClient.segment(mailbox))/missedcalls", query: [("limit", limit.map(String.init))])
            Output.print(rows, json: options.json, columns: [("AT", "at"), ("FROM", "from"), ("SMS", "sms"), ("ID", "id")])
        }
    }
}

/// `mwictl call missed`: what a PBX reports when a diverted call ends without a message.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call", abstract: "Calls: report a missed call (diverted to voice mail, no message left).",
        subcommands: [Missed.self])

    struct Missed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report a missed call; the user gets a text with VoiceMailAndMissedCalls.",
            discussion: """
                Examples:
                  mwictl call missed --mailbox alice@example.com --from +33142685300
                  mwictl call missed --extension 1234 --dial-plan Paris --from 0142685300
                """)
        @OptionGroup var options: ServerOptions
        @Option(help: "The mailbox's identity.") var mailbox: String?
        @Option(help: "… or its extension, with --dial-plan.") var `extension`: String?
        @Option(name: [.customLong("dial-plan"), .customLong("um-dial-plan")], help: "The extension's dial plan.") var dialPlan: String?
        @Option(help: "The caller's number or URI.") var from: String
        @Option(help: "When (ISO 8601; default now).") var at: String?
        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let body = compact(["mailbox": mailbox.json, "extension": `extension`.json, "dialPlan": dialPlan.json,
                                    "from": .string(from), "at": at.json])
                Output.print(try await client.send(.POST, "/calls/missed", body: .object(body)), json: options.json,
                             columns: [("id", "id"), ("mailbox", "mailbox"), ("from", "from"), ("at", "at"), ("sms", "sms")])
            }
        }
    }
}
