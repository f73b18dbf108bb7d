/// Durations as people write them in rule files and flags: an integer and a unit,
/// `500ms`, `90s`, `15m`, `2h`, `1d`.
public enum DurationText {
    /// Milliseconds, or nil for anything else (no sign, no fraction, no spaces, no overflow).
    public static func milliseconds(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let digits = text.dropLast(suffix.count)
            // "ms" also ends in "s": make sure the number part is all digits.
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int64(digits) else { continue }
            let (v, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? nil : v
        }
        return nil
    }

    /// The shortest exact spelling: 7_200_000 → `2h`.
    public static func format(milliseconds ms: Int64) -> String {
        for (suffix, scale) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where ms != 0 && ms % scale == 0 {
            return "\(ms / scale)\(suffix)"
        }
        return "\(ms)ms"
    }
}
