import ArgumentParser
import Foundation
import UnifiedMessaging

let messageColumns: [(header: String, key: String)] = [
    ("ID", "id"), ("FROM", "from"), ("RECEIVED", "receivedAt"), ("SECONDS", "durationSeconds"), ("URGENT", "urgent"), ("READ", "read"),
]

/// `mwictl message deposit|list|read|unread|delete`.
struct MessageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message", abstract: "Voice messages of a mailbox; every change moves the lamp.",
        discussion: "Example:\n  mwictl message deposit alice@example.com --from +33142685300 --duration 12",
        subcommands: [Deposit.self, List.self, Mark<MarkRead>.self, Mark<MarkUnread>.self, Delete.self])

    struct Deposit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deposit a voice message.",
            discussion: "Example:\n  mwictl message deposit alice@example.com --from +33142685300 --duration 12 --urgent")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Option(help: "The caller: a number or URI.") var from: String
        @Option(help: "Length in seconds.") var duration: Int
        @Flag(help: "High importance.") var urgent = false
        @Flag(help: "Protected.") var protected = false
        @Option(help: "The start of the transcript.") var transcript: String?

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                var body: [String: JSONValue] = ["from": .string(from), "durationSeconds": .number(Double(duration)),
                                                 "urgent": .bool(urgent), "protected": .bool(protected)]
                if let transcript { body["transcript"] = .string(transcript) }
                let made = try await client.send(.POST, "/mailboxes/\(APIClient.segment(mailbox))/messages", body: .object(body))
                Output.print(made, json: options.json, columns: messageColumns)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a mailbox's voice messages, newest first.", discussion: "Example:\n  mwictl message list alice@example.com")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                Output.print(try await client.send(.GET, "/mailboxes/\(APIClient.segment(mailbox))/messages"),
                             json: options.json, columns: messageColumns)
            }
        }
    }

    /// `read` and `unread`: one command, two values of the message's `read` flag.
    struct Mark<Value: ReadValue>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: Value.command, abstract: "Mark a voice message \(Value.command).",
                                 discussion: "Example:\n  mwictl message \(Value.command) alice@example.com MESSAGE-ID")
        }
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Argument(help: "The message's id.") var id: String

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let path = "/mailboxes/\(APIClient.segment(mailbox))/messages/\(APIClient.segment(id))"
                let changed = try await client.send(.PATCH, path, body: ["read": .bool(Value.read)])
                Output.print(changed, json: options.json, columns: messageColumns)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a voice message.", discussion: "Example:\n  mwictl message delete alice@example.com MESSAGE-ID")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Argument(help: "The message's id.") var id: String

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                try await client.send(.DELETE, "/mailboxes/\(APIClient.segment(mailbox))/messages/\(APIClient.segment(id))")
                if options.json { Output.printJSON(["deleted": .string(id)]) } else { print("deleted message \(id)") }
            }
        }
    }
}

protocol ReadValue {
    static var command: String { get }
    static var read: Bool { get }
}
enum MarkRead: ReadValue { static let command = "read", read = true }
enum MarkUnread: ReadValue { static let command = "unread", read = false }

/// `mwictl mwi status MAILBOX`.
struct MWICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mwi", abstract: "A mailbox's message waiting indicator.",
        discussion: "Example:\n  mwictl mwi status alice@example.com\n  mwictl mwi refresh --gateway pbx1\n  mwictl mwi set bob@example.com --new 2 --old 5",
        subcommands: [Status.self, Refresh.self, Set.self])

    /// `PUT mailboxes/{id}/mwi`: the counts of an externally-fed mailbox.
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the counts of a mailbox fed by another voicemail system (mwiSource External).",
            discussion: "Example:\n  mwictl mwi set bob@example.com --new 2 --old 5 --urgent-new 1")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String
        @Option(help: "New (unheard) messages.") var new: Int
        @Option(help: "Old (heard) messages.") var old: Int
        @Option(help: "Urgent among the new (default 0).") var urgentNew: Int?
        @Option(help: "Urgent among the old (default 0).") var urgentOld: Int?

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                let body = compact(["new": .number(Double(new)), "old": .number(Double(old)), "urgentNew": urgentNew.json,
                                    "urgentOld": urgentOld.json])
                let status = try await client.send(.PUT, "/mailboxes/\(APIClient.segment(mailbox))/mwi", body: .object(body))
                Status.show(status, json: options.json)
            }
        }
    }

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-send the MWI state now: of one mailbox, a gateway's, a dial plan's, a policy's, or all.",
            discussion: "Examples:\n  mwictl mwi refresh --mailbox alice@example.com\n  mwictl mwi refresh --gateway pbx1\n  mwictl mwi refresh --all")
        @OptionGroup var options: ServerOptions
        @Option(help: "One mailbox's identity.") var mailbox: String?
        @Option(help: "Every mailbox behind this IP gateway.") var gateway: String?
        @Option(name: [.customLong("dial-plan"), .customLong("um-dial-plan")], help: "Every mailbox of this dial plan.") var dialPlan: String?
        @Option(help: "Every mailbox of this mailbox policy.") var policy: String?
        @Flag(help: "Every mailbox.") var all = false

        func run() async throws {
            try await runReporting {
                var body: [String: JSONValue] = [:]
                if let mailbox { body["mailbox"] = .string(mailbox) }
                if let gateway { body["gateway"] = .string(gateway) }
                if let dialPlan { body["dialPlan"] = .string(dialPlan) }
                if let policy { body["policy"] = .string(policy) }
                if all { body["all"] = .bool(true) }
                guard body.count == 1 else {
                    throw CLIError("give exactly one of --mailbox, --gateway, --dial-plan, --policy or --all")
                }
                let client = try APIClient(options: options)
                let answer = try await client.send(.POST, "/mwi/refresh", body: .object(body))
                if options.json { Output.printJSON(answer) } else { print("refreshing \(answer["mailboxes"]?.text ?? "0") mailbox(es)") }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the lamp state of a mailbox and whether it is delivered.",
            discussion: "Example:\n  mwictl mwi status alice@example.com")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The mailbox's identity.") var mailbox: String

        func run() async throws {
            try await runReporting {
                let client = try APIClient(options: options)
                Self.show(try await client.send(.GET, "/mailboxes/\(APIClient.segment(mailbox))/mwi"), json: options.json)
            }
        }

        static func show(_ status: JSONValue, json: Bool) {
            if json {
                Output.printJSON(status)
                return
            }
            Output.print(status, json: false, columns: [
                ("messagesWaiting", "messagesWaiting"), ("new", "new"), ("old", "old"), ("urgentNew", "urgentNew"),
                ("urgentOld", "urgentOld"), ("mwiSource", "mwiSource"), ("enabled", "enabled"), ("reason", "reason"),
                ("gateways", "gateways"), ("acknowledged", "acknowledged"),
            ].filter { status[$0.key] != nil })
            if case .array(let publications)? = status["publications"] {
                print(publications.isEmpty ? "\nno live publication: nothing waiting" : "\npublications (the newest sets the counts):")
                let rows = publications.map { p -> JSONValue in
                    guard case .object(var fields) = p else { return p }
                    if let state = fields["state"] {
                        let n = ["new", "old", "urgentNew", "urgentOld"].map { state[$0]?.text ?? "0" }
                        fields["counts"] = .string("\(n[0])/\(n[1]) (\(n[2])/\(n[3]))")
                    }
                    return .object(fields)
                }
                if !rows.isEmpty {
                    Output.printTable(rows, columns: [("ETAG", "etag"), ("PUBLISHER", "publisher"), ("COUNTS", "counts"),
                                                      ("UPDATED", "updatedAt"), ("EXPIRES", "expiresAt")])
                }
            }
            if case .array(let attempts)? = status["lastAttempts"], !attempts.isEmpty {
                print("\nlast attempts:")
                Output.printTable(attempts, columns: [("AT", "at"), ("GATEWAY", "gateway"), ("TRANSPORT", "transport"),
                                                      ("STATE", "state"), ("RESPONSE", "response")])
            }
        }
    }
}

/// `mwictl events`.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "The event log, newest first.",
        discussion: "Example:\n  mwictl events --subject alice@example.com --limit 20")
    @OptionGroup var options: ServerOptions
    @Option(help: "Only events after this id, oldest first.") var after: Int?
    @Option(help: "At most this many (default 100).") var limit: Int?
    @Option(help: "Only events about this object (a name or identity).") var subject: String?

    func run() async throws {
        try await runReporting {
            let client = try APIClient(options: options)
            let events = try await client.send(.GET, "/events", query: [
                ("after", after.map(String.init)), ("limit", limit.map(String.init)), ("subject", subject),
            ])
            Output.print(events, json: options.json, columns: [
                ("ID", "id"), ("AT", "at"), ("LEVEL", "level"), ("KIND", "kind"), ("SUBJECT", "subject"), ("MESSAGE", "message"),
            ])
        }
    }
}

enum FileHandleWriter {
    static func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}
