# Keeps /etc/outrigger/registry.yaml current from the Consul catalog.
#   consul-template -config /etc/outrigger/consul-template.hcl
consul {
  address = "127.0.0.1:8500"
}

template {
  source      = "/etc/outrigger/registry.yaml.ctmpl"
  destination = "/etc/outrigger/registry.yaml"
  perms       = 0644
  # Runs after each render and logs whether the new file is valid. The file is written atomically
  # (rename) and Outrigger reloads on its own when it sees it; an invalid one is refused by Outrigger,
  # which keeps the running configuration and logs every FILE:LINE:COL error.
  command     = "/usr/local/bin/outrigger check --config /etc/outrigger/outrigger.yaml"
  wait {
    min = "2s"
    max = "10s"
  }
}
