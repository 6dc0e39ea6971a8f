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
        .library(name: "SIPTransport", targets: ["SIPTransport"]),
        .library(name: "UnifiedMessaging", targets: ["UnifiedMessaging"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "AdminAPI", targets: ["AdminAPI"]),
        .library(name: "MWI", targets: ["MWI"]),
        .library(name: "Notifications", targets: ["Notifications"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // Pure SIP protocol core: message model, parser, serializer, URIs, digest,
        // RFC 3842 message-summary. No sockets, no NIO channels, no clock.
        .target(
            name: "SIP",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // SIP over UDP, TCP and TLS on SwiftNIO, with RFC 3261 transactions.
        .target(
            name: "SIPTransport",
            dependencies: [
                "SIP", "CResolv",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Pure unified-messaging domain: dial plans, gateways, policies, mailboxes, voice
        // messages, MWI state, validation, the policy decision. No I/O, no clock.
        .target(
            name: "UnifiedMessaging",
            dependencies: ["SIP", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The storage seam (protocol) and its embedded SQLite backend (GRDB).
        .target(
            name: "Storage",
            dependencies: [
                "UnifiedMessaging",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The REST API under /api/v1 (Hummingbird): routes, bearer auth, JSON errors, OpenAPI.
        .target(
            name: "AdminAPI",
            dependencies: [
                "UnifiedMessaging", "Storage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        // The MWI engine: NOTIFY composition, delivery with failover, coalescing, records.
        .target(
            name: "MWI",
            dependencies: [
                "SIP", "SIPTransport", "UnifiedMessaging", "Storage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Text messages: SMPP 3.4 (ESME), HTTP gateways, email-to-SMS over SMTP, and the
        // dispatcher of the durable SMS outbox.
        .target(
            name: "Notifications",
            dependencies: [
                "UnifiedMessaging", "Storage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The allocator of mwid (see docs/deployment.md): Debian's libjemalloc-dev to build,
        // libjemalloc2 to run (scripts/deps installs it; no pkg-config needed: -ljemalloc).
        .systemLibrary(name: "CJemalloc"),
        // glibc's stub resolver (libresolv, in libc6-dev): DNS answers with their TTL, for
        // RFC 3263 SRV and A/AAAA resolution of peers named by host name.
        .systemLibrary(name: "CResolv"),
        .executableTarget(
            name: "mwid",
            dependencies: [
                "SIP", "SIPTransport", "UnifiedMessaging", "Storage", "AdminAPI", "MWI", "Notifications", "CJemalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "mwictl",
            dependencies: [
                "UnifiedMessaging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "UnifiedMessagingTests",
            dependencies: ["UnifiedMessaging"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: ["UnifiedMessaging", "Storage", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MWITests",
            dependencies: ["MWI", "SIP", "SIPTransport", "UnifiedMessaging", "Storage"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AdminAPITests",
            dependencies: [
                "UnifiedMessaging", "Storage", "AdminAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Notifications", "UnifiedMessaging", "Storage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SIPTests",
            dependencies: ["SIP", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Helpers shared by the test targets: real peer processes, free ports.
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        // The built mwid and mwictl executables, run as an administrator runs them.
        .testTarget(
            name: "ProcessTests",
            dependencies: ["TestSupport", "SIP", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SIPTransportTests",
            dependencies: [
                "SIP", "SIPTransport", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Scenarios"],  // SIPp scenarios, read from the source tree by path
            swiftSettings: strict
        ),
    ]
)
