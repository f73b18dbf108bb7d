// swift-tools-version:6.1
import PackageDescription

// MuleStream's benchmarks: a nested package so the main package does not depend on the
// benchmark harness. Run with `swift package --disable-sandbox benchmark` from this folder;
// every published figure comes from `Benchmarks/run-all.sh` (see BENCHMARKS.md).
let benchmark: [Target.Dependency] = [
    .product(name: "Benchmark", package: "benchmark"),
    "BenchSupport",
]
let plugins: [Target.PluginUsage] = [.plugin(name: "BenchmarkPlugin", package: "benchmark")]

let package = Package(
    name: "MuleStreamBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "MuleStream", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Workloads shared by the suites and the plain measuring tools.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "MuleCore", package: "MuleStream"),
                .product(name: "MuleSimulator", package: "MuleStream"),
                .product(name: "MuleRules", package: "MuleStream"),
            ],
            path: "BenchSupport"
        ),
        // The engine through a broker: librdkafka's mock cluster in-process, a stream produced to
        // it, `StreamEngine` consuming it (throughput) or a paced producer and an alert reader
        // around it (produced → alert latency).
        .target(
            name: "BrokerSupport",
            dependencies: [
                "BenchSupport",
                .product(name: "MuleEngine", package: "MuleStream"),
                .product(name: "MuleKafka", package: "MuleStream"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "BrokerSupport"
        ),
        .executableTarget(name: "DecodeBenchmarks", dependencies: benchmark, path: "DecodeBenchmarks", plugins: plugins),
        .executableTarget(name: "CoreBenchmarks", dependencies: benchmark, path: "CoreBenchmarks", plugins: plugins),
        .executableTarget(name: "RuleBenchmarks", dependencies: benchmark, path: "RuleBenchmarks", plugins: plugins),
        .executableTarget(name: "BrokerBenchmarks", dependencies: benchmark + ["BrokerSupport"], path: "BrokerBenchmarks", plugins: plugins),
        // Plain release tools: replay throughput with ContinuousClock (also the profiling
        // target for callgrind/perf) and bytes per tracked account.
        .executableTarget(name: "replay", dependencies: ["BenchSupport"], path: "Tools/replay"),
        .executableTarget(name: "state-bytes", dependencies: ["BenchSupport"], path: "Tools/state-bytes"),
        // Memory under the account cap (also built straight with swiftc by scripts/memory-check).
        .executableTarget(name: "account-cap", dependencies: [.product(name: "MuleCore", package: "MuleStream")], path: "Tools/account-cap"),
        // Through the broker: `broker throughput` (events/s) and `broker latency` (produced →
        // alert percentiles at a paced input rate, HdrHistogram).
        .executableTarget(
            name: "broker",
            dependencies: ["BrokerSupport", .product(name: "Histogram", package: "hdrhistogram-swift")],
            path: "Tools/broker"
        ),
    ],
    swiftLanguageModes: [.v6]
)
