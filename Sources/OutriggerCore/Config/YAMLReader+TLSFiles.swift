import CX509

// Certificate, key and CA files (SPEC §18): `check` reads them with the system's OpenSSL, the library libcurl uses
// upstream, so a file that is missing, not PEM, or a key that is not its certificate's is reported at its key with
// FILE:LINE:COL rather than at the first handshake.
extension YAMLReader {
    /// A PEM file of one or more certificates (a chain, or a CA bundle).
    mutating func certificateFile(_ node: YAMLNode, at path: String, folder: String) -> String? {
        guard let resolved = self.readableFile(node, at: path, folder: folder) else { return nil }
        if let problem = TLSFiles.certificateProblem(resolved) {
            self.error(node, "\(path) '\(resolved)': \(problem)")
            return nil
        }
        return resolved
    }

    /// A PEM private key, unencrypted.
    mutating func keyFile(_ node: YAMLNode, at path: String, folder: String) -> String? {
        guard let resolved = self.readableFile(node, at: path, folder: folder) else { return nil }
        if let problem = TLSFiles.keyProblem(resolved) {
            self.error(node, "\(path) '\(resolved)': \(problem)")
            return nil
        }
        return resolved
    }

    /// Reports, at the key's node, a key that does not belong to its certificate.
    mutating func checkPair(certificate: String, key: String, keyNode: YAMLNode, at path: String) {
        if let problem = TLSFiles.pairProblem(certificate: certificate, key: key) {
            self.error(keyNode, "\(path) '\(key)': \(problem) '\(certificate)'")
        }
    }
}

/// The file checks, also used when a reload re-reads the inbound pair.
enum TLSFiles {
    static func certificateProblem(_ path: String) -> String? {
        Self.call { cx509_certificate_count(path, $0, $1) >= 1 }
    }

    static func keyProblem(_ path: String) -> String? {
        Self.call { cx509_key_readable(path, $0, $1) == 1 }
    }

    static func pairProblem(certificate: String, key: String) -> String? {
        Self.call { cx509_pair_matches(certificate, key, $0, $1) == 1 }
    }

    private static func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Bool) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            buffer.initialize(repeating: 0)
            guard !body(buffer.baseAddress!, buffer.count) else { return nil }
            return String(cString: buffer.baseAddress!)
        }
    }
}
