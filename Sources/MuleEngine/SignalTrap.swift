#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Turns SIGTERM and SIGINT into a graceful stop: the engine finishes the batch in hand,
/// publishes alerts, commits and exits 0. A second signal exits at once.
public enum SignalTrap {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    public static func install(_ stop: StopSignal, onSignal: (@Sendable (Int32) -> Void)? = nil) {
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
    }
}
