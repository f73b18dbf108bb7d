/// Durations as people write them in rule files and flags: an integer and a unit,
/// `500ms`, `90s`, `15m`, `2h`, `1d`. One parser for the rule loader and the CLI.
public enum DurationText {
    /// Units and their length in milliseconds, in the order messages list them.
    public static let units: [(name: String, millis: Int64)] = [
        ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// How a text fails to be a duration.
    public enum Problem: Error, Equatable {
        /// Digits without a unit (`90`).
        case bareNumber
        /// Not digits followed by one of the units.
        case notADuration
        /// The value does not fit in 64-bit milliseconds.
        case tooLarge
    }

    /// Milliseconds of `text`, or why it is not a duration (no sign, no fraction, no spaces).
    public static func parse(_ text: String) -> Result<Int64, Problem> {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unitText = text.dropFirst(digits.count)
        if !digits.isEmpty && unitText.isEmpty { return .failure(.bareNumber) }
        guard !digits.isEmpty, let unit = units.first(where: { $0.name == unitText }) else {
            return .failure(.notADuration)
        }
        guard let count = Int64(digits) else { return .failure(.tooLarge) }
        let (millis, overflow) = count.multipliedReportingOverflow(by: unit.millis)
        return overflow ? .failure(.tooLarge) : .success(millis)
    }

    /// Milliseconds, or nil for anything that is not a duration.
    public static func milliseconds(_ text: String) -> Int64? {
        try? parse(text).get()
    }

    /// The shortest exact spelling: 7_200_000 → `2h`, 1500 → `1500ms`.
    public static func format(milliseconds ms: Int64) -> String {
        for unit in units.reversed() where ms != 0 && ms % unit.millis == 0 {
            return "\(ms / unit.millis)\(unit.name)"
        }
        return "\(ms)ms"
    }
}
