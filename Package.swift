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
        // Operations endpoint (`run --http`): HTTP server and Prometheus metrics. Hummingbird's default
        // traits pull in swift-configuration and full Foundation, which the endpoint does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "Crdkafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // Software prefetch hints (`__builtin_prefetch`) for MuleCore's hot path.
        .target(name: "CMulePrefetch"),
        // Pure engine: no I/O, no Foundation, no clocks.
        .target(name: "MuleCore", dependencies: ["CMulePrefetch"]),
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
                "MuleCore", "MuleRules", "MuleKafka", "Yams",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The operations endpoint of `run --http`: /metrics (Prometheus), /healthz, /readyz, live view.
        .target(
            name: "MuleOps",
            dependencies: [
                "MuleCore", "MuleEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "MuleTesting", dependencies: ["MuleCore", "MuleEngine", "MuleRules"]),
        .executableTarget(
            name: "mulestream",
            dependencies: [
                "MuleCore", "MuleRules", "MuleKafka", "MuleEngine", "MuleOps", "MuleSimulator", "MuleBacktest", "MuleReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MuleCoreTests",
            dependencies: [
                "MuleCore", "MuleTesting", "MuleRules", "MuleSimulator",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "MuleRulesTests", dependencies: ["MuleRules", "MuleCore"]),
        .testTarget(name: "MuleKafkaTests", dependencies: ["MuleKafka"]),
        .testTarget(name: "MuleBacktestTests", dependencies: ["MuleBacktest", "MuleCore", "MuleTesting", "MuleSimulator"]),
        .testTarget(name: "MuleReportTests", dependencies: ["MuleReport", "MuleBacktest", "MuleCore"]),
        .testTarget(name: "MuleSimulatorTests", dependencies: ["MuleSimulator", "MuleCore"]),
        .testTarget(name: "MuleEngineTests", dependencies: ["MuleEngine", "MuleTesting", "MuleCore", "MuleRules", "MuleSimulator"]),
        .testTarget(name: "MuleOpsTests", dependencies: [
            "MuleOps", "MuleEngine", "MuleKafka", "MuleCore", "MuleRules", "MuleTesting",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Spawns the built `mulestream` binary and kcat against `mulestream dev-broker`.
        .testTarget(name: "IntegrationTests", dependencies: ["MuleKafka", "MuleTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
