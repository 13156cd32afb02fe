/// Renders `outrigger status` (SPEC §14): one row per service, services in trouble first (open breakers, then
/// half-open, then by error share), colours only when asked for (a terminal without `NO_COLOR`).
enum StatusTable {
    static func render(_ report: StatusReport, target: String, color: Bool) -> String {
        let rows = report.rows.enumerated().sorted { left, right in
            let (a, b) = (Self.rank(left.element), Self.rank(right.element))
            return a != b ? a > b : left.offset < right.offset
        }.map(\.element)
        let header = ["SERVICE", "BREAKER", "REQ/S", "ERRORS", "P99", "IN-FLIGHT", "EJECTED"]
        let cells = rows.map { row -> [String] in
            [
                row.name, row.breaker,
                row.requestsPerSecond.map { Self.fixed($0, 1) } ?? "-",
                row.errorShare.map { Self.fixed($0 * 100, 1) + "%" } ?? "-",
                row.p99Ms.map { Self.milliseconds($0) } ?? "-",
                String(row.inFlight),
                row.ejected.isEmpty
                    ? "0/\(row.endpoints)"
                    : "\(row.ejected.count)/\(row.endpoints) " + row.ejected.joined(separator: ","),
            ]
        }
        var widths = header.map(\.count)
        for line in cells { for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.count) } }
        let rightAligned: Set = [2, 3, 4, 5]  // the numbers
        func line(_ cells: [String], colors: [String?]) -> String {
            let parts = cells.enumerated().map { index, cell in
                let gap = String(repeating: " ", count: widths[index] - cell.count)
                // The last column is left unpadded, so no line ends in spaces.
                let padded = index == cells.count - 1 ? cell : rightAligned.contains(index) ? gap + cell : cell + gap
                guard color, let code = colors[index] else { return padded }
                return "\u{1B}[\(code)m" + padded + "\u{1B}[0m"
            }
            return parts.joined(separator: "  ") + "\n"
        }
        let window =
            report.windowSeconds > 0 ? "rates over the last \(Self.fixed(report.windowSeconds, 0)) s" : "no rates yet"
        var text = "outrigger at \(target): \(rows.count) service\(rows.count == 1 ? "" : "s"), \(window)\n"
        text += line(header, colors: Array(repeating: color ? "1" : nil, count: header.count))
        for (row, cells) in zip(rows, cells) {
            let breaker: String? =
                switch row.breaker {
                case "open": "1;31"
                case "half_open": "33"
                case "closed": "32"
                default: nil
                }
            let errors: String? = (row.errorShare ?? 0) >= 0.05 ? "31" : (row.errorShare ?? 0) > 0 ? "33" : nil
            let ejected: String? = row.ejected.isEmpty ? nil : "33"
            text += line(cells, colors: [row.breaker == "open" ? "1" : nil, breaker, nil, errors, nil, nil, ejected])
        }
        let open = rows.filter { $0.breaker == "open" }.map(\.name)
        if !open.isEmpty {
            text +=
                "breaker open: \(open.joined(separator: ", ")) (curl \(target.hasPrefix("unix:") ? "--unix-socket ..." : target)/breakers/NAME for why)\n"
        }
        return text
    }

    /// Higher is worse: open, half-open, then the error share.
    static func rank(_ row: StatusRow) -> Double {
        switch row.breaker {
        case "open": return 3
        case "half_open": return 2
        default: return (row.errorShare ?? 0) + (row.ejected.isEmpty ? 0 : 0.5)
        }
    }

    /// `value` with `digits` decimals, without Foundation's formatting.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        guard digits > 0 else { return String(scaled) }
        let sign = scaled < 0 ? "-" : ""
        let magnitude = abs(scaled)
        let fraction = String(magnitude % Int(scale))
        return sign + String(magnitude / Int(scale)) + "." + String(repeating: "0", count: digits - fraction.count)
            + fraction
    }

    static func milliseconds(_ value: Double) -> String {
        value >= 1000 ? Self.fixed(value / 1000, 2) + " s" : Self.fixed(value, value < 10 ? 2 : 1) + " ms"
    }
}
