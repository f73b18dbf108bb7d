// swift-tools-version:6.1
import PackageDescription

// MuleStream's benchmarks: a nested package so the main package does not depend on the
// benchmark harness. Run with `swift package --disable-sandbox benchmark` from this folder.
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
        .executableTarget(name: "DecodeBenchmarks", dependencies: benchmark, path: "DecodeBenchmarks", plugins: plugins),
        .executableTarget(name: "CoreBenchmarks", dependencies: benchmark, path: "CoreBenchmarks", plugins: plugins),
        .executableTarget(name: "RuleBenchmarks", dependencies: benchmark, path: "RuleBenchmarks", plugins: plugins),
        // Plain release tools: replay throughput with ContinuousClock (also the profiling
        // target for callgrind/perf) and bytes per tracked account.
        .executableTarget(name: "replay", dependencies: ["BenchSupport"], path: "Tools/replay"),
        .executableTarget(name: "state-bytes", dependencies: ["BenchSupport"], path: "Tools/state-bytes"),
        // Memory under the account cap (also built straight with swiftc by scripts/memory-check).
        .executableTarget(name: "account-cap", dependencies: [.product(name: "MuleCore", package: "MuleStream")], path: "Tools/account-cap"),
    ],
    swiftLanguageModes: [.v6]
)
