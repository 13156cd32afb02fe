/// HTTP/1.1 chunked framing of response bodies of unknown length (RFC 9112 §7.1), shared by the libcurl and the h2c
/// paths.
enum ChunkedFraming {
    /// Hands the size line of a `length`-byte chunk (`hex CRLF`) to `body`, built on the stack without allocating.
    static func withSizeLine<R>(_ length: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var line: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = withUnsafeMutableBytes(of: &line) { raw -> Int in
            let hex: StaticString = "0123456789abcdef"
            var digits = 0
            var value = length
            repeat {
                digits += 1
                value >>= 4
            } while value > 0
            value = length
            hex.withUTF8Buffer { table in
                for index in stride(from: digits - 1, through: 0, by: -1) {
                    raw[index] = table[value & 0xF]
                    value >>= 4
                }
            }
            raw[digits] = 13
            raw[digits + 1] = 10
            return digits + 2
        }
        return withUnsafeBytes(of: &line) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// The last chunk: `0 CRLF`, the trailer lines (`name: value CRLF` each), `CRLF`.
    static func lastChunk(trailers: [UInt8]) -> [UInt8] {
        var last: [UInt8] = [48, 13, 10]
        last += trailers
        last += [13, 10]
        return last
    }
}
