#!/bin/sh
# One-time Vault bootstrap, run by an operator after `vault operator init` (docs/secrets.md).
# Rendered from the stack config by components.vault.bootstrap_script(); it holds no secret.
# Needs VAULT_TOKEN (the initial root token, revoked at the end) in the environment.
set -eu
: "${VAULT_TOKEN:?export VAULT_TOKEN (initial root token) first}"

# 1. Audit device: every request and response, HMAC'd, to the audit volume. Vault refuses to
#    serve requests it cannot audit once a device is enabled. Mode 0640: the audit shipper
#    sidecar in the same pod (group 1000, read-only mount) ships it to the audit bucket.
vault audit enable file file_path=/vault/audit/vault_audit.log mode=0640

# 2. KV v2 for application secrets (the seed's vault:secret/data/... references).
vault secrets enable -path=secret -version=2 kv || true

# 3. Kubernetes auth for External Secrets: Vault reviews the pod's own token (authDelegator).
vault auth enable -path=kubernetes kubernetes || true
vault write auth/kubernetes/config kubernetes_host=https://kubernetes.default.svc:443

# External Secrets' own role (ClusterSecretStore vault-backend) reads the platform namespaces'
# prefixes only; every tenant namespace has its own role and policy (tenants.sh, ConfigMap
# vault-tenancy), so no role reads secret/data/* (issue 17).
vault policy write external-secrets - <<'POLICY'
# no platform namespace reads secrets through vault-backend: this policy grants nothing
POLICY

vault write auth/kubernetes/role/external-secrets \
  bound_service_account_names=external-secrets \
  bound_service_account_namespaces=external-secrets \
  audience=vault \
  token_policies=external-secrets \
  token_ttl=1h token_max_ttl=24h

# 4. Rotation Vault enforces itself: max_lease_ttl in the server config caps every lease at
#    2160h (rotation.apiKeyDays); signing keys Vault holds (transit) rotate every
#    90 days (rotation.signingKeyDays). HSM-held keys: docs/secrets.md.
vault secrets enable transit || true
vault write transit/keys/signing type=ecdsa-p384 auto_rotate_period=2160h

# 5. No standing root token.
vault token revoke -self
