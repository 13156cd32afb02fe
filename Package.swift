// swift-tools-version:6.1
import Foundation
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // Exclusivity is checked statically; the dynamic check costs ~1% of a proxied request (perf, bench/README.md).
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "outrigger",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "outrigger", targets: ["outrigger"]),
        .library(name: "OutriggerCore", targets: ["OutriggerCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        // No default traits: BinaryDelimitedStreams imports all of Foundation (and its ICU data, 10 MB of RSS).
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
    ],
    targets: [
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "CX509", linkerSettings: [.linkedLibrary("crypto")]),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl"), .linkedLibrary("z")]
        ),
        // The OTLP trace messages, generated once from opentelemetry-proto (scripts/generate-otlp.sh) and committed.
        .target(
            name: "OTLPProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "OutriggerCore",
            dependencies: [
                "CCurl",
                "OTLPProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                "CX509",
                "CYAML",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "outrigger",
            dependencies: [
                "OutriggerCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "OutriggerCoreTests",
            dependencies: [
                "OutriggerCore", "CCurl", "OTLPProto", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "OutriggerIntegrationTests",
            dependencies: [
                "OutriggerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)

// libFuzzer targets, built only by scripts/fuzz.sh (OUTRIGGER_FUZZ=1) with -sanitize=fuzzer,address; libFuzzer
// runs through `LLVMFuzzerRunDriver` from each target's main.swift.
if ProcessInfo.processInfo.environment["OUTRIGGER_FUZZ"] == "1" {
    package.targets.append(.target(name: "CFuzz", path: "Fuzz/CFuzz"))
    for name in ["FuzzConfigLoader", "FuzzTraceHeaders", "FuzzResponseHead", "FuzzHeaderRules"] {
        package.targets.append(
            .executableTarget(
                name: name,
                dependencies: [
                    "OutriggerCore", "CCurl", "CFuzz", .product(name: "NIOCore", package: "swift-nio"),
                    .product(name: "NIOHTTP1", package: "swift-nio"),
                ],
                path: "Fuzz/\(name)",
                swiftSettings: strictSettings
            ))
    }
}
