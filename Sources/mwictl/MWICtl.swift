import ArgumentParser

/// mwictl — the administrator's command line over mwid's REST API.
@main
struct MWICtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mwictl",
        abstract: "Administer an mwid server (dial plans, gateways, policies, mailboxes, MWI).",
        discussion: """
            The administration commands arrive with the REST API. Example:
              mwictl --version
            """,
        version: "0.1.0"
    )

    func run() throws {
        print(Self.helpMessage())
    }
}
