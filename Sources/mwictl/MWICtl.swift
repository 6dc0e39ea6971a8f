import ArgumentParser

/// mwictl — the administrator's command line over mwid's REST API, noun first, one
/// command per Exchange cmdlet (see docs/cli.md).
@main
struct MWICtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mwictl",
        abstract: "Administer an mwid server: dial plans, IP gateways, mailbox policies, mailboxes, messages, MWI, SMS.",
        discussion: """
            The server is --server URL, else MWID_URL, else http://127.0.0.1:8080; the token is \
            --token, else MWID_TOKEN, else ./mwid-data/admin.token. Tables by default, --json for scripts.

            Examples:
              mwictl dialplan new Paris --number-of-digits-in-extension 4
              mwictl policy new Default --dial-plan Paris
              mwictl gateway new pbx1 --address 192.0.2.10 --dial-plans Paris
              mwictl mailbox new alice@example.com --extension 1234 --dial-plan Paris --policy Default
              mwictl message deposit alice@example.com --from +33142685300 --duration 12
              mwictl mwi status alice@example.com
            """,
        version: "0.2.0",
        subcommands: [
            NounCommand<DialPlanNoun>.self, NounCommand<GatewayNoun>.self, NounCommand<PolicyNoun>.self,
            NounCommand<MailboxNoun>.self, MessageCommand.self, MWICommand.self, SMSCommand.self, CallCommand.self, EventsCommand.self,
        ]
    )
}

/// Where the server is, how to authenticate, how to print.
struct ServerOptions: ParsableArguments {
    @Option(help: "mwid's URL (default: MWID_URL, else http://127.0.0.1:8080).")
    var server: String?

    @Option(help: "Admin bearer token (default: MWID_TOKEN, else ./mwid-data/admin.token).")
    var token: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false
}

/// Runs a command body, printing a failure plainly and exiting non-zero.
func runReporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        var standardError = StandardError()
        print("mwictl: \(error.description)", to: &standardError)
        throw ExitCode(1)
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.write(string)
    }
}
