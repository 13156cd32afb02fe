// The `discovery.etcd` block (SPEC §12).
extension ConfigLoader {
    static func etcdTable(folder: String) -> ConfigKeyTable<EtcdSettings> {
        ConfigKeyTable([
            (
                "endpoints",
                { value, path, etcd, reader in
                    guard let items = reader.sequence(value, at: path) else { return }
                    if items.isEmpty { reader.error(value, "\(path) is empty: name at least one etcd client URL") }
                    for item in items {
                        guard var url = reader.string(item, at: "\(path) item") else { continue }
                        while url.hasSuffix("/") { url.removeLast() }
                        let rest =
                            url.hasPrefix("http://")
                            ? url.dropFirst(7) : url.hasPrefix("https://") ? url.dropFirst(8) : nil
                        guard let rest, !rest.isEmpty, !rest.contains("/") else {
                            reader.error(
                                item,
                                "\(path): '\(url)' is not an etcd client URL (expected http://HOST:PORT or https://HOST:PORT)"
                            )
                            continue
                        }
                        etcd.endpoints.append(url)
                    }
                }
            ),
            (
                "prefix",
                { value, path, etcd, reader in
                    guard let text = reader.string(value, at: path) else { return }
                    guard text.hasPrefix("/"), text.count > 1 else {
                        reader.error(
                            value, "\(path) must start with '/' and name a folder, such as /outrigger/services/")
                        return
                    }
                    etcd.prefix = text.hasSuffix("/") ? text : text + "/"
                }
            ),
            (
                "username",
                { value, path, etcd, reader in
                    if let text = reader.string(value, at: path) { etcd.username = text.isEmpty ? nil : text }
                }
            ),
            (
                "password",
                { value, path, etcd, reader in
                    if let text = reader.string(value, at: path) { etcd.password = text.isEmpty ? nil : text }
                }
            ),
            (
                "cache",
                { value, path, etcd, reader in
                    guard let text = reader.string(value, at: path) else { return }
                    if text.isEmpty {
                        reader.error(value, "\(path) must be a file path (the last-known-good copy of the catalog)")
                    } else {
                        etcd.cacheFile = Self.resolve(text, folder: folder)
                    }
                }
            ),
            (
                "tls_ca_file",
                { value, path, etcd, reader in
                    if let v = reader.certificateFile(value, at: path, folder: folder) { etcd.tlsCAFile = v }
                }
            ),
        ])
    }

    static func readEtcd(
        _ node: YAMLNode, at path: String, folder: String, into etcd: inout EtcdSettings, reader: inout YAMLReader
    ) {
        guard
            let pairs = Self.etcdTable(folder: folder).read(node, at: path, prefix: path, into: &etcd, reader: &reader)
        else { return }
        if !pairs.contains(where: { $0.key == "endpoints" }) { reader.error(node, "\(path) needs endpoints") }
        if (etcd.username == nil) != (etcd.password == nil) {
            reader.error(node, "\(path): username and password go together")
        }
    }
}
