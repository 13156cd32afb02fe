import CCurl
import Glibc

/// Builds a curl header list in one allocation: the `curl_slist` nodes and their strings share one block, so a
/// request's headers cost one malloc instead of two per line (`curl_slist_append` allocates a node and duplicates
/// the string). libcurl only reads the list it is given (`CURLOPT_HTTPHEADER`); the worker frees it with
/// `CurlHeaderList.free` when the transfer ends.
struct CurlHeaderList {
    private var bytes: [UInt8] = []
    private var lines = 0

    /// A builder with room for about `capacity` bytes of lines.
    init(capacity: Int) {
        self.bytes.reserveCapacity(capacity)
    }

    /// Appends `Name: value`, or `Name;` for an empty value (the only way curl sends an empty header). A NUL byte
    /// ends the name or value there, as it would in the C string curl reads (and keeps one terminator per line).
    mutating func append(name: String, value: String) {
        self.appendUpToNul(name)
        if value.isEmpty {
            self.bytes.append(UInt8(ascii: ";"))
        } else {
            self.bytes.append(UInt8(ascii: ":"))
            self.bytes.append(UInt8(ascii: " "))
            self.appendUpToNul(value)
        }
        self.bytes.append(0)
        self.lines += 1
    }

    private mutating func appendUpToNul(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[..<end]))
        }
    }

    /// Appends a line as curl takes it, up to a NUL byte (`Accept:` removes curl's own Accept header).
    mutating func append(line: String) {
        self.appendUpToNul(line)
        self.bytes.append(0)
        self.lines += 1
    }

    /// The list, in one block owned by the caller (nil when empty).
    func build() -> UnsafeMutablePointer<curl_slist>? {
        guard self.lines > 0 else { return nil }
        let nodeBytes = self.lines * MemoryLayout<curl_slist>.stride
        guard let block = malloc(nodeBytes + self.bytes.count) else { return nil }
        let nodes = block.bindMemory(to: curl_slist.self, capacity: self.lines)
        let strings = (block + nodeBytes).bindMemory(to: CChar.self, capacity: self.bytes.count)
        self.bytes.withUnsafeBytes {
            UnsafeMutableRawPointer(strings).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
        }
        var offset = 0
        for index in 0..<self.lines {
            let next = index + 1 < self.lines ? nodes + index + 1 : nil
            (nodes + index).initialize(to: curl_slist(data: strings + offset, next: next))
            while self.bytes[offset] != 0 { offset += 1 }
            offset += 1
        }
        return nodes
    }

    /// The lines of a list, as curl reads them (C strings along the `next` chain).
    static func lines(of list: UnsafeMutablePointer<curl_slist>?) -> [String] {
        var lines: [String] = []
        var node = list
        while let current = node {
            lines.append(String(cString: current.pointee.data))
            node = current.pointee.next
        }
        return lines
    }

    /// Frees a list made by `build`.
    static func free(_ list: UnsafeMutablePointer<curl_slist>?) {
        Glibc.free(list)
    }
}
