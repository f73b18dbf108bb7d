#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Turns SIGTERM and SIGINT into a graceful stop: the engine finishes the batch in hand,
/// publishes alerts, commits and exits 0. A second signal exits at once. With a `reload`
/// request, SIGHUP asks the engine to reload its rules between batches instead of stopping it.
public enum SignalTrap {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    public static func install(_ stop: StopSignal, reload: ReloadRequest? = nil, onSignal: (@Sendable (Int32) -> Void)? = nil) {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler {
                if stop.isStopped { _exit(128 + sig) }
                onSignal?(sig)
                stop.stop()
            }
            src.resume()
            sources.append(src)
        }
        if let reload {
            signal(SIGHUP, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            src.setEventHandler {
                onSignal?(SIGHUP)
                reload.request()
            }
            src.resume()
            sources.append(src)
        }
    }
}
