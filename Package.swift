// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "leadd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "leadd", targets: ["leadd"]),
        .executable(name: "leaddctl", targets: ["leaddctl"]),
        .executable(name: "leadd-bench", targets: ["leadd-bench"]),
        .library(name: "LeaddCore", targets: ["LeaddCore"]),
        .library(name: "PluginAPI", targets: ["PluginAPI"]),
        // Channel plugins: shared libraries loaded by leadd with dlopen.
        .library(name: "TestChannel", type: .dynamic, targets: ["TestChannel"]),
        .library(name: "BadABIPlugin", type: .dynamic, targets: ["BadABIPlugin"]),
        .library(name: "SMS", type: .dynamic, targets: ["SMS"]),
        .library(name: "WhatsApp", type: .dynamic, targets: ["WhatsApp"]),
        .library(name: "Email", type: .dynamic, targets: ["Email"]),
        // Preloaded into leadd by the tests to make the disk fail on demand.
        .library(name: "FaultInjection", type: .dynamic, targets: ["FaultInjection"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            path: "Sources/CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // The PostgreSQL store: libpq's own client, as the database's tools use it.
        .systemLibrary(
            name: "CLibPQ",
            path: "Sources/CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // HTTP and SMTP for the channel plugins: libcurl's multi interface, through typed wrappers.
        .systemLibrary(
            name: "CCurl",
            path: "Sources/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Phone numbers against real numbering plans: a C face over Debian's libphonenumber.
        .target(
            name: "CPhoneNumbers",
            path: "Sources/CPhoneNumbers",
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: [.linkedLibrary("phonenumber"), .linkedLibrary("stdc++")]
        ),
        // The plugin ABI: one C header, the only binary contract between leadd and a plugin.
        .target(
            name: "CLeaddPlugin",
            path: "Sources/PluginAPI/CABI"
        ),
        // A lock the sanitizers understand, shared by the daemon and the plugins.
        .target(
            name: "LeaddSync",
            swiftSettings: strict
        ),
        // Swift side of the ABI, compiled into the daemon and into each Swift plugin.
        .target(
            name: "PluginAPI",
            dependencies: ["CLeaddPlugin", "LeaddSync"],
            path: "Sources/PluginAPI/Swift",
            swiftSettings: strict
        ),
        // JSON values and the parser shared by the daemon and its clients.
        .target(
            name: "LeaddProtocol",
            swiftSettings: strict
        ),
        .target(
            name: "LeaddCore",
            dependencies: [
                "CSQLite",
                "CLibPQ",
                "CSystemd",
                "CPhoneNumbers",
                "LeaddProtocol",
                "PluginAPI",
                "LeaddSecrets",
                "LeaddSync",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LeaddClient",
            dependencies: ["LeaddProtocol"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "leadd",
            dependencies: [
                "LeaddCore",
                "LeaddSync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "leaddctl",
            dependencies: [
                .product(name: "CSV", package: "CSV.swift"),
                "LeaddClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "leadd-bench",
            dependencies: [
                "LeaddClient",
                "LeaddSync",
                "TestSupport",
                "CSQLite",
                "CLibPQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TestChannel",
            dependencies: ["PluginAPI", "LeaddSync"],
            path: "Plugins/TestChannel",
            swiftSettings: strict
        ),
        // Secrets named by reference (file, environment, systemd credential), for config and plugins.
        .target(
            name: "LeaddSecrets",
            swiftSettings: strict
        ),
        // What the channel plugins share: the transfer engine, settings and secrets, content.
        .target(
            name: "PluginKit",
            dependencies: ["CCurl", "PluginAPI", "LeaddSecrets", "LeaddSync"],
            swiftSettings: strict
        ),
        .target(
            name: "SMS",
            dependencies: ["PluginAPI", "PluginKit"],
            path: "Plugins/SMS",
            swiftSettings: strict
        ),
        .target(
            name: "WhatsApp",
            dependencies: ["PluginAPI", "PluginKit"],
            path: "Plugins/WhatsApp",
            swiftSettings: strict
        ),
        .target(
            name: "Email",
            dependencies: ["PluginAPI", "PluginKit"],
            path: "Plugins/Email",
            swiftSettings: strict
        ),
        .target(
            name: "BadABIPlugin",
            dependencies: ["CLeaddPlugin"],
            path: "Plugins/BadABI"
        ),
        .target(
            name: "FaultInjection",
            path: "Tests/FaultInjection"
        ),
        .testTarget(
            name: "LeaddCoreTests",
            dependencies: [
                "LeaddCore", "LeaddProtocol", "PluginAPI", "CSQLite", "TestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // The fuzz corpus is read from the source tree, not bundled.
            exclude: ["Fuzz/Corpus"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["LeaddClient", "LeaddProtocol", "LeaddSync", "PluginAPI", "TestSupport"],
            swiftSettings: strict
        ),
        // Helpers shared by the test targets and the benchmark (seeded randomness, private
        // servers, loopback ports).
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "PluginKitTests",
            dependencies: ["PluginKit", "PluginAPI", "Email"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
