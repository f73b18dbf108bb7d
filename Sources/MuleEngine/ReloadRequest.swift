import Synchronization

/// Asks a running engine to reload its rule files and snooze file between batches (set from
/// the SIGHUP handler or a test). Requests made before the engine looks are merged into one.
public final class ReloadRequest: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func request() { flag.store(true, ordering: .releasing) }

    /// Whether a reload was asked for since the last call; clears the request.
    public func take() -> Bool { flag.exchange(false, ordering: .acquiringAndReleasing) }
}
