#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Notices that the rule files (the `--rules` file or folder) or the snooze file changed, by
/// comparing a cheap fingerprint — the folder's rule-file names, sizes, inodes and modification
/// times — taken from the engine loop about once a second. No extra thread, no inotify.
///
/// A change is reported only once the fingerprint has stayed the same for one whole check
/// interval, so a file still being written is looked at again rather than loaded half-way
/// (and if it is loaded half-way anyway, the loader refuses it and the next write retries).
struct RuleFileWatch {
    /// One watched file as seen by `stat` (a missing file is recorded as missing).
    struct Stamp: Equatable {
        var path: String
        var exists: Bool
        var size: Int64
        var inode: UInt64
        var modifiedSeconds: Int64
        var modifiedNanos: Int64
    }

    let rulesPath: String
    let snoozeFile: String?
    /// The fingerprint of the files last loaded (or refused): not reported again.
    private var loaded: [Stamp]
    /// A different fingerprint seen at the previous check, waiting to settle.
    private var pending: [Stamp]?

    init(rulesPath: String, snoozeFile: String?) {
        self.rulesPath = rulesPath
        self.snoozeFile = snoozeFile
        loaded = []
        loaded = fingerprint()
    }

    /// Whether the files differ from what was loaded and have not changed since the last check.
    mutating func changeSettled() -> Bool {
        let now = fingerprint()
        guard now != loaded else {
            pending = nil
            return false
        }
        if now == pending {
            pending = nil
            return true
        }
        pending = now
        return false
    }

    /// Records what a reload attempt read (taken just before it read the files), so later edits
    /// are noticed and this state is not reported again.
    mutating func markLoaded(_ stamps: [Stamp]) {
        loaded = stamps
        pending = nil
    }

    /// The current fingerprint: for a folder, the files `RuleLoader` would load, in name order.
    func fingerprint() -> [Stamp] {
        var out: [Stamp] = []
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: rulesPath, isDirectory: &isDirectory), isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: rulesPath)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) {
                out.append(Self.stamp((rulesPath as NSString).appendingPathComponent(name)))
            }
        } else {
            out.append(Self.stamp(rulesPath))
        }
        if let snoozeFile { out.append(Self.stamp(snoozeFile)) }
        return out
    }

    static func stamp(_ path: String) -> Stamp {
        var st = stat()
        // stat (not lstat): a link swapped to a new target counts as a change of the file.
        guard stat(path, &st) == 0 else {
            return Stamp(path: path, exists: false, size: 0, inode: 0, modifiedSeconds: 0, modifiedNanos: 0)
        }
        return Stamp(path: path, exists: true, size: Int64(st.st_size), inode: UInt64(st.st_ino),
                     modifiedSeconds: Int64(st.st_mtim.tv_sec), modifiedNanos: Int64(st.st_mtim.tv_nsec))
    }
}
