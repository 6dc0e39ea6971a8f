import ArgumentParser
import Foundation
import UnifiedMessaging

/// A directory object kind: its route, key, table columns and the options that set its fields.
protocol DirectoryNoun {
    associatedtype Fields: FieldOptions
    /// `dialplan`, `gateway`, …
    static var command: String { get }
    static var what: String { get }
    static var plural: String { get }
    static var cmdlets: String { get }
    /// `/dialplans`
    static var path: String { get }
    /// The JSON key field: `name` or `identity`.
    static var key: String { get }
    static var columns: [(header: String, key: String)] { get }
    static var newExample: String { get }
    static var setExample: String { get }
    /// Query options of `list` (after, limit, filters), as (option value, query key) pairs.
    static var listFilters: Bool { get }
    /// Commands of this noun besides list, get, new, set and remove.
    static var extraCommands: [any ParsableCommand.Type] { get }
}

/// Options that map to JSON fields; only the options given are sent.
protocol FieldOptions: ParsableArguments {
    func fields() throws -> [String: JSONValue]
}

extension Optional where Wrapped == String {
    /// `""` clears an optional field (JSON null).
    var json: JSONValue? { map { $0.isEmpty ? .null : .string($0) } }
}
extension Optional where Wrapped == Int {
    var json: JSONValue? { map { .number(Double($0)) } }
}
extension Optional where Wrapped == Bool {
    var json: JSONValue? { map { .bool($0) } }
}

extension DirectoryNoun {
    static var extraCommands: [any ParsableCommand.Type] { [] }
    static var article: String { "aeiouAEIOU".contains(what.first ?? "x") ? "an" : "a" }
}

func compact(_ pairs: [String: JSONValue?]) -> [String: JSONValue] {
    pairs.compactMapValues { $0 }
}

struct NounCommand<Noun: DirectoryNoun>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Noun.command,
            abstract: "\(Noun.plural.prefix(1).uppercased() + Noun.plural.dropFirst()) (\(Noun.cmdlets)).",
            discussion: "Examples:\n  \(Noun.newExample)\n  \(Noun.setExample)\n  mwictl \(Noun.command) list",
            subcommands: [List.self, Get.self, New.self, Set.self, Remove.self] + Noun.extraCommands)
    }

    struct List: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "List the \(Noun.plural).",
                                 discussion: "Example:\n  mwictl \(Noun.command) list\(Noun.listFilters ? " --dial-plan Paris --limit 50" : "")")
        }
        @OptionGroup var options: ServerOptions
        @Option(help: "Only those after this key (paging; mailboxes only).") var after: String?
        @Option(help: "At most this many (mailboxes only; default 1000).") var limit: Int?
        @Option(name: [.customLong("dial-plan"), .customLong("um-dial-plan")], help: "Only this dial plan's (mailboxes only).")
        var dialPlan: String?

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let query: [(String, String?)] = Noun.listFilters
                    ? [("after", after), ("limit", limit.map(String.init)), ("dialPlan", dialPlan)] : []
                if !Noun.listFilters && (after != nil || limit != nil || dialPlan != nil) {
                    throw CLIError("--after, --limit and --dial-plan apply to mailbox list only")
                }
                Output.print(try await client.send(.GET, Noun.path, query: query), json: options.json, columns: Noun.columns)
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Show one \(Noun.what).", discussion: "Example:\n  \(Noun.setExample.components(separatedBy: " --").first?.replacingOccurrences(of: " set ", with: " get ") ?? "")")
        }
        @OptionGroup var options: ServerOptions
        @Argument(help: "The \(Noun.what)'s \(Noun.key).") var id: String

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                Output.print(try await client.send(.GET, "\(Noun.path)/\(APIClient.segment(id))"), json: options.json, columns: Noun.columns)
            }
        }
    }

    struct New: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Create \(Noun.article) \(Noun.what).", discussion: "Example:\n  \(Noun.newExample)")
        }
        @OptionGroup var options: ServerOptions
        @Argument(help: "The new \(Noun.what)'s \(Noun.key).") var id: String
        @OptionGroup var fields: Noun.Fields

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                var body = try fields.fields().filter { $0.value != .null }
                body[Noun.key] = .string(id)
                Output.print(try await client.send(.POST, Noun.path, body: .object(body)), json: options.json, columns: Noun.columns)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Change the given settings of \(Noun.article) \(Noun.what); the others stay.",
                                 discussion: "An empty value (\"\") clears an optional setting. Example:\n  \(Noun.setExample)")
        }
        @OptionGroup var options: ServerOptions
        @Argument(help: "The \(Noun.what)'s \(Noun.key).") var id: String
        @OptionGroup var fields: Noun.Fields

        func run() async throws {
            try await runReporting {
                let patch = try fields.fields()
                guard !patch.isEmpty else { throw CLIError("nothing to change: give at least one option (see --help)") }
                let client = try APIClient(options: options)
                Output.print(try await client.send(.PATCH, "\(Noun.path)/\(APIClient.segment(id))", body: .object(patch)),
                             json: options.json, columns: Noun.columns)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Remove \(Noun.article) \(Noun.what).",
                                 discussion: "Example:\n  mwictl \(Noun.command) remove \(Noun.newExample.split(separator: " ").dropFirst(3).first ?? "NAME")")
        }
        @OptionGroup var options: ServerOptions
        @Argument(help: "The \(Noun.what)'s \(Noun.key).") var id: String

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                try await client.send(.DELETE, "\(Noun.path)/\(APIClient.segment(id))")
                if options.json { Output.printJSON(["removed": .string(id)]) } else { print("removed \(Noun.what) \(id)") }
            }
        }
    }
}

// MARK: The four nouns

enum DialPlanNoun: DirectoryNoun {
    static let command = "dialplan", what = "dial plan", plural = "dial plans", cmdlets = "New-/Get-/Set-/Remove-UMDialPlan"
    static let path = "/dialplans", key = "name", listFilters = false
    static let columns: [(header: String, key: String)] = [
        ("NAME", "name"), ("DIGITS", "numberOfDigitsInExtension"), ("URI TYPE", "uriType"),
        ("VOIP SECURITY", "voipSecurity"), ("COUNTRY", "countryOrRegionCode"),
    ]
    static let newExample = "mwictl dialplan new Paris --number-of-digits-in-extension 4 --uri-type TelExtn"
    static let setExample = "mwictl dialplan set Paris --voip-security SIPSecured"

    struct Fields: FieldOptions {
        @Option(help: "Digits in an extension, 1–20.") var numberOfDigitsInExtension: Int?
        @Option(name: .customLong("uri-type"), help: "TelExtn, SipName or E164.") var uriType: String?
        @Option(name: .customLong("voip-security"), help: "Unsecured, SIPSecured or Secured.") var voipSecurity: String?
        @Option(help: "Country calling code, e.g. 33.") var countryOrRegionCode: String?
        @Option(help: "true or false: unsolicited NOTIFYs go on for mailboxes whose phones subscribe (default true).")
        var unsolicitedNotifyWhenSubscribed: Bool?
        func fields() throws -> [String: JSONValue] {
            compact(["numberOfDigitsInExtension": numberOfDigitsInExtension.json, "uriType": uriType.json,
                     "voipSecurity": voipSecurity.json, "countryOrRegionCode": countryOrRegionCode.json,
                     "unsolicitedNotifyWhenSubscribed": unsolicitedNotifyWhenSubscribed.json])
        }
    }
}

enum GatewayNoun: DirectoryNoun {
    static let command = "gateway", what = "IP gateway", plural = "IP gateways", cmdlets = "New-/Get-/Set-/Remove-UMIPGateway"
    static let path = "/gateways", key = "name", listFilters = false
    static let columns: [(header: String, key: String)] = [
        ("NAME", "name"), ("ADDRESS", "address"), ("PORT", "port"), ("TRANSPORT", "transport"), ("DIAL PLANS", "dialPlans"),
        ("STATUS", "status"), ("MWI", "messageWaitingIndicatorAllowed"), ("PRIORITY", "priority"),
    ]
    static let newExample = "mwictl gateway new pbx1 --address 192.0.2.10 --dial-plans Paris --transport udp"
    static let setExample = "mwictl gateway set pbx1 --message-waiting-indicator-allowed false"

    struct Fields: FieldOptions {
        @Option(help: "IPv4, IPv6 or FQDN.") var address: String?
        @Option(help: "1–65535 (default 5060, 5061 for tls).") var port: Int?
        @Option(help: "auto, udp, tcp or tls.") var transport: String?
        @Option(name: [.customLong("dial-plans"), .customLong("um-dial-plan")], help: "Dial plans served, comma-separated, in order.")
        var dialPlans: String?
        @Option(help: "Enabled or Disabled.") var status: String?
        @Option(help: "true or false.") var messageWaitingIndicatorAllowed: Bool?
        @Option(help: "Lower is tried first.") var priority: Int?
        @Option(help: "Digest username for a peer that challenges.") var username: String?
        @Option(help: "Digest password (never shown again).") var password: String?
        func fields() throws -> [String: JSONValue] {
            let plans = dialPlans.map { text in
                JSONValue.array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
            }
            return compact(["address": address.json, "port": port.json, "transport": transport.json, "dialPlans": plans,
                            "status": status.json, "messageWaitingIndicatorAllowed": messageWaitingIndicatorAllowed.json,
                            "priority": priority.json, "username": username.json, "password": password.json])
        }
    }
}

enum PolicyNoun: DirectoryNoun {
    static let command = "policy", what = "mailbox policy", plural = "mailbox policies", cmdlets = "New-/Get-/Set-/Remove-UMMailboxPolicy"
    static let path = "/policies", key = "name", listFilters = false
    static let columns: [(header: String, key: String)] = [
        ("NAME", "name"), ("DIAL PLAN", "dialPlan"), ("MWI", "allowMessageWaitingIndicator"), ("SMS", "allowSMSNotification"),
    ]
    static let newExample = "mwictl policy new Default --dial-plan Paris"
    static let setExample = "mwictl policy set Default --allow-message-waiting-indicator false"

    struct Fields: FieldOptions {
        @Option(name: [.customLong("dial-plan"), .customLong("um-dial-plan")], help: "The dial plan the policy belongs to.")
        var dialPlan: String?
        @Option(help: "true or false.") var allowMessageWaitingIndicator: Bool?
        @Option(name: .customLong("allow-sms-notification"), help: "true or false.") var allowSMSNotification: Bool?
        func fields() throws -> [String: JSONValue] {
            compact(["dialPlan": dialPlan.json, "allowMessageWaitingIndicator": allowMessageWaitingIndicator.json,
                     "allowSMSNotification": allowSMSNotification.json])
        }
    }
}

enum MailboxNoun: DirectoryNoun {
    static let command = "mailbox", what = "UM-enabled mailbox", plural = "UM-enabled mailboxes", cmdlets = "Enable-/Get-/Set-/Disable-UMMailbox"
    static let path = "/mailboxes", key = "identity", listFilters = true
    static let columns: [(header: String, key: String)] = [
        ("IDENTITY", "identity"), ("EXTENSION", "extension"), ("DIAL PLAN", "dialPlan"), ("POLICY", "policy"),
        ("SIP RESOURCE", "sipResourceIdentifier"), ("SMS", "umSMSNotificationOption"), ("MWI SOURCE", "mwiSource"),
    ]
    static let newExample = "mwictl mailbox new alice@example.com --extension 1234 --dial-plan Paris --policy Default"
    static let setExample = "mwictl mailbox set alice@example.com --um-sms-notification-option VoiceMail"
    static var extraCommands: [any ParsableCommand.Type] { [SubscriptionsCommand.self, MailboxSMSCommand.self, MissedCallsCommand.self] }

    struct Fields: FieldOptions {
        @Option(name: [.customLong("extension"), .customLong("extensions")], help: "The primary extension (digits).")
        var `extension`: String?
        @Option(name: [.customLong("dial-plan"), .customLong("um-dial-plan")], help: "The primary dial plan.") var dialPlan: String?
        @Option(name: [.customLong("policy"), .customLong("um-mailbox-policy")], help: "The mailbox policy.") var policy: String?
        @Option(name: .customLong("sip-resource-identifier"), help: "SIP URI (SipName) or E.164 number (E164).")
        var sipResourceIdentifier: String?
        @Option(name: .customLong("um-sms-notification-option"), help: "None, VoiceMail or VoiceMailAndMissedCalls.")
        var umSMSNotificationOption: String?
        @Option(name: .customLong("sip-password"), help: "Digest secret for the user's phones (never shown again).")
        var sipPassword: String?
        @Option(name: .customLong("mwi-source"), help: "Messages (its voice messages make the counts) or External (another voicemail system publishes them).")
        var mwiSource: String?
        func fields() throws -> [String: JSONValue] {
            compact(["extension": `extension`.json, "dialPlan": dialPlan.json, "policy": policy.json,
                     "sipResourceIdentifier": sipResourceIdentifier.json,
                     "umSMSNotificationOption": umSMSNotificationOption.json, "sipPassword": sipPassword.json, "mwiSource": mwiSource.json])
        }
    }
}

/// `mwictl mailbox subscriptions ID [--end SUBSCRIPTION | --end-all]`.
struct SubscriptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscriptions",
        abstract: "The phones subscribed to a mailbox's message-summary; end one or all of them.",
        discussion: """
            An ended subscription gets a final NOTIFY (terminated;reason=deactivated): a phone \
            that is still there subscribes again at once.
            Examples:
              mwictl mailbox subscriptions alice@example.com
              mwictl mailbox subscriptions alice@example.com --end 3f2a9c0d11b4e785
            """)
    @OptionGroup var options: ServerOptions
    @Argument(help: "The mailbox's identity.") var mailbox: String
    @Option(help: "End the subscription with this id.") var end: String?
    @Flag(help: "End every subscription of the mailbox.") var endAll = false

    static let columns: [(header: String, key: String)] = [
        ("ID", "id"), ("SUBSCRIBER", "subscriber"), ("CONTACT", "contact"), ("TRANSPORT", "transport"),
        ("EXPIRES", "expiresAt"), ("NOTIFIED", "notifiedState"), ("LAST RESPONSE", "lastResponse"),
    ]

    func run() async throws {
        try await runReporting {
            if end != nil && endAll { throw CLIError("give --end ID or --end-all, not both") }
            let client = try APIClient(options: options)
            let base = "/mailboxes/\(APIClient.segment(mailbox))/subscriptions"
            var ids: [String] = end.map { [$0] } ?? []
            if endAll, case .array(let rows) = try await client.send(.GET, base) {
                ids = rows.compactMap { $0["id"]?.text }
            }
            if end != nil || endAll {
                for id in ids { try await client.send(.DELETE, "\(base)/\(APIClient.segment(id))") }
                if options.json { Output.printJSON(["ended": .array(ids.map { .string($0) })]) } else {
                    print(ids.isEmpty ? "no subscription to end" : "ended \(ids.count) subscription(s)")
                }
                return
            }
            Output.print(try await client.send(.GET, base), json: options.json, columns: Self.columns)
        }
    }
}
