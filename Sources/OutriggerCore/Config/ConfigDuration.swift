/// Parses the duration notation of SPEC §2: an integer followed by `ms`, `s`, `m` or `h` (`250ms`, `2s`, `1m`, `1h`).
///
/// `0` alone is accepted and means zero (used for "no timeout"). Fractions and other units are rejected so that a
/// typo never silently becomes a different timeout.
public enum ConfigDuration {
    /// Returns the duration in milliseconds, or nil when the text is not a valid duration.
    public static func milliseconds(from text: String) -> Int64? {
        if text == "0" { return 0 }
        let units: [(suffix: String, factor: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            // "5ms" also ends in "s": only accept the longest unit that leaves a plain number.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), number.count <= 12 else {
                continue
            }
            guard let value = Int64(number) else { continue }
            return value * unit.factor
        }
        return nil
    }

    /// Renders milliseconds back in the shortest exact notation, for `/config` and summaries.
    public static func format(milliseconds ms: Int64) -> String {
        if ms == 0 { return "0" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}
