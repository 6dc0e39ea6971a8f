import ArgumentParser
import SIP

/// The mwid server. Until the server lands (issue 4) it only reports its version.
@main
struct MWID: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mwid",
        abstract: "Message Waiting Indicator server for unified messaging.",
        discussion: """
            Keeps the voicemail lamp on every phone true: RFC 3842 message-summary \
            NOTIFYs to PBXs and gateways, subscriptions from phones, SMS notifications.
            """,
        version: MWIDVersion.string
    )

    func run() throws {
        print("mwid \(MWIDVersion.string) (SIP core \(SIPCore.version)) — the server is not built yet; see README.md")
    }
}

enum MWIDVersion {
    static let string = "0.1.0"
}
