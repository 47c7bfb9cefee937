"""The hardened-stack CrossGuard policy pack (run it with ``pulumi preview --policy-pack policy_pack``)."""
