// swift-tools-version: 6.1
// libFuzzer harness for mwid's SIP parser. Built by ../scripts/fuzz, never by the main
// package (it needs -sanitize=fuzzer, which provides main()).
import PackageDescription

let package = Package(
    name: "SIPFuzz",
    dependencies: [.package(name: "mwid", path: "..")],
    targets: [
        .executableTarget(
            name: "SIPFuzzer",
            dependencies: [.product(name: "SIP", package: "mwid")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        )
    ]
)
