// swift-tools-version: 6.1
// mwid — a Message Waiting Indicator server for unified messaging.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "mwid",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mwid", targets: ["mwid"]),
        .executable(name: "mwictl", targets: ["mwictl"]),
        .library(name: "SIP", targets: ["SIP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Pure SIP protocol core: message model, parser, serializer, URIs, digest,
        // RFC 3842 message-summary. No sockets, no NIO channels, no clock.
        .target(
            name: "SIP",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "mwid",
            dependencies: [
                "SIP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "mwictl",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SIPTests",
            dependencies: ["SIP"],
            swiftSettings: strict
        ),
    ]
)
