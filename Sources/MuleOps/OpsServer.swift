import Dispatch
import Foundation
import Hummingbird
import Logging
import MuleEngine
import Prometheus
import ServiceLifecycle
import Synchronization

/// The operations endpoint of `mulestream run --http`: `/metrics` (Prometheus text exposition),
/// `/healthz`, `/readyz`, `/api/status` (JSON) and the live view at `/`. It only reads what the
/// engine hands its `EngineMonitor`; it never touches the engine thread.
public final class OpsServer: Sendable {
    /// The address actually bound (the port chosen by the system when asked for port 0).
    public let address: OpsAddress
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(address: OpsAddress, group: ServiceGroup, task: Task<Void, any Error>) {
        self.address = address
        self.group = group
        self.task = task
    }

    /// Binds and starts serving; returns once the socket listens (or throws why it could not,
    /// e.g. the address is in use), waiting at most `timeout`.
    public static func start(at bind: OpsAddress, monitor: EngineMonitor, registry: PrometheusCollectorRegistry,
                             logger: Logger, timeout: Duration = .seconds(15)) async throws -> OpsServer {
        let (events, sink) = AsyncStream<Result<OpsAddress, any Error>>.makeStream()
        let app = Application(
            router: routes(monitor: monitor, registry: registry),
            configuration: ApplicationConfiguration(address: .hostname(bind.host, port: bind.port), serverName: "mulestream"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? bind.port
                sink.yield(.success(OpsAddress(host: channel.localAddress?.ipAddress ?? bind.host, port: port)))
            },
            logger: logger
        )
        // No signal handling here: SIGTERM belongs to the engine, which stops the server when done.
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await group.run()
                sink.yield(.failure(OpsServerError.stoppedBeforeListening))
            } catch {
                sink.yield(.failure(error))
                throw error
            }
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            sink.yield(.failure(OpsServerError.notListeningInTime(timeout)))
        }
        defer { timer.cancel() }
        for await event in events {
            switch event {
            case .success(let address):
                logger.notice("operations endpoint listening", metadata: ["address": "\(address)"])
                return OpsServer(address: address, group: group, task: task)
            case .failure(let error):
                task.cancel()
                throw error
            }
        }
        throw OpsServerError.stoppedBeforeListening
    }

    /// Stops listening, lets requests in flight finish and closes every connection (cut off
    /// after `grace`); returns when the server has stopped.
    public func shutdown(grace: Duration = .seconds(5)) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        let cutoff = Task {
            try await Task.sleep(for: grace)
            task.cancel()
        }
        _ = await task.result
        cutoff.cancel()
    }

    /// `start` for synchronous callers (the CLI's main thread), which must not be one of Swift's
    /// cooperative threads.
    public static func startBlocking(at bind: OpsAddress, monitor: EngineMonitor, registry: PrometheusCollectorRegistry,
                                     logger: Logger) throws -> OpsServer {
        let result = BlockingResult<OpsServer>()
        Task { result.set(await Result(awaiting: { try await start(at: bind, monitor: monitor, registry: registry, logger: logger) })) }
        return try result.wait().get()
    }

    /// `shutdown` for synchronous callers.
    public func shutdownBlocking() {
        let done = BlockingResult<Void>()
        Task { await shutdown(); done.set(.success(())) }
        _ = done.wait()
    }

    static func routes(monitor: EngineMonitor, registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("/healthz") { _, _ in text(.ok, "ok\n") }
        router.get("/readyz") { _, _ in
            let phase = monitor.phase
            return phase.isReady ? text(.ok, "ready: \(phase.reason)\n") : text(.serviceUnavailable, "not ready: \(phase.reason)\n")
        }
        router.get("/api/status") { _, _ in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = try encoder.encode(StatusDocument(monitor.status))
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: json)))
        }
        let page = ByteBuffer(string: LivePage.html)
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: page))
        }
        return router
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

public enum OpsServerError: Error, CustomStringConvertible {
    case stoppedBeforeListening
    case notListeningInTime(Duration)

    public var description: String {
        switch self {
        case .stoppedBeforeListening: "the HTTP server stopped before it listened"
        case .notListeningInTime(let d): "the HTTP server did not listen within \(d)"
        }
    }
}

/// A value handed from a Task to a thread that blocks for it.
private final class BlockingResult<T>: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private var value: Result<T, any Error>?  // written once before the signal, read after the wait

    func set(_ v: Result<T, any Error>) {
        value = v
        semaphore.signal()
    }

    func wait() -> Result<T, any Error> {
        semaphore.wait()
        return value!
    }
}

extension Result where Failure == any Error {
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

extension OpsServer {
    /// Buckets of the batch-latency histogram: a poll batch takes from well under a millisecond
    /// (a few events) to about a second (a full batch on a loaded box).
    public static let batchBuckets: [Duration] = [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                                  .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                  .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                                  .milliseconds(2500)]

    /// A Prometheus factory writing into `registry`, with the engine's histogram buckets.
    public static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["mulestream_batch_duration_seconds"] = batchBuckets
        return factory
    }

    /// Gives `engine` a monitor feeding a fresh Prometheus registry and serves it at `bind`
    /// (synchronously: for the CLI's main thread). Call before `engine.run`.
    public static func attach(to engine: StreamEngine, at bind: OpsAddress, logger: Logger) throws -> OpsServer {
        let registry = PrometheusCollectorRegistry()
        let monitor = EngineMonitor(metrics: metricsFactory(registry))
        engine.monitor = monitor
        return try startBlocking(at: bind, monitor: monitor, registry: registry, logger: logger)
    }

    /// The same endpoints for an instance sharing the work (`run --app-id`).
    public static func attach(to engine: ScaleOutEngine, at bind: OpsAddress, logger: Logger) throws -> OpsServer {
        let registry = PrometheusCollectorRegistry()
        let monitor = EngineMonitor(metrics: metricsFactory(registry))
        engine.monitor = monitor
        return try startBlocking(at: bind, monitor: monitor, registry: registry, logger: logger)
    }
}
