ui = true
cluster_name = "lego-mcp-prod"
log_level = "info"
log_format = "json"
default_lease_ttl = "1h"
max_lease_ttl = "2160h"

listener "tcp" {
  address = "[::]:8200"
  cluster_address = "[::]:8201"
  tls_disable = false
  tls_cert_file = "/vault/userconfig/vault-server-tls/tls.crt"
  tls_key_file = "/vault/userconfig/vault-server-tls/tls.key"
  tls_min_version = "tls13"
  tls_disable_client_certs = true

  telemetry {
    unauthenticated_metrics_access = false
  }
}

storage "raft" {
  path = "/vault/data"

  retry_join {
    leader_api_addr = "https://vault-0.vault-internal:8200"
    leader_ca_cert_file = "/vault/userconfig/vault-server-tls/ca.crt"
    leader_tls_servername = "vault-0.vault-internal"
  }

  retry_join {
    leader_api_addr = "https://vault-1.vault-internal:8200"
    leader_ca_cert_file = "/vault/userconfig/vault-server-tls/ca.crt"
    leader_tls_servername = "vault-1.vault-internal"
  }

  retry_join {
    leader_api_addr = "https://vault-2.vault-internal:8200"
    leader_ca_cert_file = "/vault/userconfig/vault-server-tls/ca.crt"
    leader_tls_servername = "vault-2.vault-internal"
  }

  retry_join {
    leader_api_addr = "https://vault-3.vault-internal:8200"
    leader_ca_cert_file = "/vault/userconfig/vault-server-tls/ca.crt"
    leader_tls_servername = "vault-3.vault-internal"
  }

  retry_join {
    leader_api_addr = "https://vault-4.vault-internal:8200"
    leader_ca_cert_file = "/vault/userconfig/vault-server-tls/ca.crt"
    leader_tls_servername = "vault-4.vault-internal"
  }
}

# kms_key_id is the alias this stack creates (alias/<cluster>-vault-unseal) or the ARN of the key
# brought (byok): known before any AWS resource exists, so this text is known at a first preview.
seal "awskms" {
  region = "us-east-1"
  kms_key_id = "alias/lego-mcp-prod-vault-unseal"
}

service_registration "kubernetes" {}

telemetry {
  prometheus_retention_time = "24h"
  disable_hostname = true
}
