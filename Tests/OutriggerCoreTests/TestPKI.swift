import Foundation

/// Certificates and keys made with openssl when the tests first need them (never committed): a CA, a leaf it
/// signed (with URI and DNS names), and a second key that belongs to no certificate here.
enum TestPKI {
    struct Files {
        let folder: String
        var ca: String { self.folder + "/ca.pem" }
        var leaf: String { self.folder + "/leaf.pem" }
        var leafKey: String { self.folder + "/leaf.key" }
        var otherKey: String { self.folder + "/other.key" }
        /// A file that exists and is no PEM at all.
        var junk: String { self.folder + "/junk.pem" }
        /// The leaf in DER, and its SHA-256 in hex as openssl computes it.
        var leafDER: String { self.folder + "/leaf.der" }
        let leafSHA256: String
    }

    static let files: Files = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outrigger-pki-\(UUID())").path
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        @discardableResult
        func openssl(_ arguments: String...) -> String {
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: folder)
            process.standardError = FileHandle.nullDevice
            process.standardOutput = pipe
            try! process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            precondition(process.terminationStatus == 0, "openssl \(arguments) failed")
            return String(decoding: output, as: UTF8.self)
        }
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=unit-ca")
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj",
            "/O=Acme/CN=leaf")
        try! "subjectAltName=URI:spiffe://acme/leaf,DNS:leaf.acme,DNS:alt.acme\n".write(
            toFile: folder + "/leaf.ext", atomically: true, encoding: .utf8)
        openssl(
            "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "leaf.pem", "-days", "1", "-extfile", "leaf.ext")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.key")
        try! "not a certificate\n".write(toFile: folder + "/junk.pem", atomically: true, encoding: .utf8)
        openssl("x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der")
        let digest = openssl("dgst", "-sha256", "-r", "leaf.der").split(separator: " ").first.map(String.init) ?? ""
        return Files(folder: folder, leafSHA256: digest)
    }()
}
