// swift-tools-version: 6.1
// Micro-benchmarks for mwid (ordo-one/benchmark). Kept out of the main package so that
// `swift build` and `swift test` never build the benchmark machinery.
// Run: scripts/bench-micro   (or: cd Benchmarks && swift package benchmark)
import PackageDescription

let package = Package(
    name: "mwid-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "mwid", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .target(name: "BenchmarkSamples", path: "Profile/BenchmarkSamples", swiftSettings: [.swiftLanguageMode(.v6)]),
        // malloc_trim, so that resident sizes count what is in use (memory-per-item figures).
        .target(name: "CMallocStats", path: "Profile/CMallocStats"),
        .executableTarget(
            name: "SIPBenchmarks",
            dependencies: [
                "BenchmarkSamples",
                .product(name: "SIP", package: "mwid"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SIPBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A plain loop over the same work, for valgrind --tool=callgrind (instruction
        // counts are repeatable on a noisy machine): scripts/profile-sip.
        .executableTarget(
            name: "SIPProfile",
            dependencies: ["BenchmarkSamples", .product(name: "SIP", package: "mwid")],
            path: "Profile/SIPProfile",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Whole-transport load: NOTIFY client transactions against a real responder
        // (bench/sip-transport runs it beside a stateless Kamailio).
        .executableTarget(
            name: "SIPTransportBench",
            dependencies: [
                "CMallocStats",
                .product(name: "SIP", package: "mwid"),
                .product(name: "SIPTransport", package: "mwid"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Profile/SIPTransportBench",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(name: "StorageProbe", dependencies: [.product(name: "Storage", package: "mwid")],
                          path: "Profile/StorageProbe", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Texts over one SMPP bind, the client alone and the durable outbox (bench/sms/run).
        .executableTarget(
            name: "SMSBench",
            dependencies: [
                .product(name: "Notifications", package: "mwid"),
                .product(name: "Storage", package: "mwid"),
                .product(name: "UnifiedMessaging", package: "mwid"),
            ],
            path: "Profile/SMSBench",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
