// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "MuleStream",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mulestream", targets: ["mulestream"]),
        .library(name: "MuleCore", targets: ["MuleCore"]),
        // For the nested Benchmarks/ package (workload generation and shipped rules).
        .library(name: "MuleSimulator", targets: ["MuleSimulator"]),
        .library(name: "MuleRules", targets: ["MuleRules"]),
        // For the Benchmarks/ tools that measure the engine through a broker.
        .library(name: "MuleEngine", targets: ["MuleEngine"]),
        .library(name: "MuleKafka", targets: ["MuleKafka"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .systemLibrary(
            name: "Crdkafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // Pure engine: no I/O, no Foundation, no clocks.
        .target(name: "MuleCore"),
        .target(name: "MuleRules", dependencies: ["MuleCore", "Yams"]),
        .target(name: "MuleKafka", dependencies: ["Crdkafka"]),
        .target(name: "MuleSimulator", dependencies: ["MuleCore"]),
        // Replaying NDJSON files through the core and scoring alerts against labels.
        .target(name: "MuleBacktest", dependencies: ["MuleCore"]),
        // One self-contained HTML page (inline CSS + SVG) of a replay: PR curve, alerts over time,
        // detection delay, top accounts, money-flow drawings of detected gangs.
        .target(name: "MuleReport", dependencies: ["MuleCore", "MuleBacktest"]),
        .target(
            name: "MuleEngine",
            dependencies: [
                "MuleCore", "MuleRules", "MuleKafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "MuleTesting", dependencies: ["MuleCore", "MuleEngine", "MuleRules"]),
        .executableTarget(
            name: "mulestream",
            dependencies: [
                "MuleCore", "MuleRules", "MuleKafka", "MuleEngine", "MuleSimulator", "MuleBacktest", "MuleReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MuleCoreTests",
            dependencies: [
                "MuleCore", "MuleTesting", "MuleRules",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "MuleRulesTests", dependencies: ["MuleRules", "MuleCore"]),
        .testTarget(name: "MuleKafkaTests", dependencies: ["MuleKafka"]),
        .testTarget(name: "MuleBacktestTests", dependencies: ["MuleBacktest", "MuleCore", "MuleTesting", "MuleSimulator"]),
        .testTarget(name: "MuleReportTests", dependencies: ["MuleReport", "MuleBacktest", "MuleCore"]),
        .testTarget(name: "MuleSimulatorTests", dependencies: ["MuleSimulator", "MuleCore"]),
        .testTarget(name: "MuleEngineTests", dependencies: ["MuleEngine", "MuleTesting", "MuleCore", "MuleRules", "MuleSimulator"]),
        // Spawns the built `mulestream` binary and kcat against `mulestream dev-broker`.
        .testTarget(name: "IntegrationTests", dependencies: ["MuleKafka"]),
    ],
    swiftLanguageModes: [.v6]
)
