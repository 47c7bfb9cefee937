"""Minimal structural schemas for the custom resources whose upstream CRDs we can state with
confidence: the fields their CRDs mark required, with their types and the enums they define.
Everything else stays open (``additionalProperties`` allowed): this is a floor the API server
would also enforce, not a replacement for the upstream CRD.

Sources: cert-manager v1 API reference (Certificate: ``secretName`` and ``issuerRef`` required,
``issuerRef.name`` required; an Issuer configures exactly one issuer type); Gateway API v1
standard channel CRDs (Gateway: ``gatewayClassName`` and 1-64 ``listeners`` each with ``name``,
``port`` 1-65535 and ``protocol``; HTTPRoute ``parentRefs[].name`` required).
"""
from __future__ import annotations

STRING = {"type": "string", "minLength": 1}
DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"}

CERTIFICATE = {
    "type": "object",
    "required": ["spec"],
    "properties": {"spec": {
        "type": "object",
        "required": ["secretName", "issuerRef"],
        "properties": {
            "secretName": STRING,
            "issuerRef": {"type": "object", "required": ["name"],
                          "properties": {"name": STRING, "kind": STRING, "group": STRING}},
            "dnsNames": {"type": "array", "items": STRING},
            "duration": DURATION,
            "renewBefore": DURATION,
            "isCA": {"type": "boolean"},
            "privateKey": {"type": "object", "properties": {
                "algorithm": {"enum": ["RSA", "ECDSA", "Ed25519"]},
                "rotationPolicy": {"enum": ["Never", "Always"]},
                "encoding": {"enum": ["PKCS1", "PKCS8"]},
                "size": {"type": "integer"}}},
        },
    }},
}

ISSUER_TYPES = ["acme", "ca", "selfSigned", "vault", "venafi"]
ISSUER = {
    "type": "object",
    "required": ["spec"],
    "properties": {"spec": {
        "type": "object",
        "oneOf": [{"required": [t]} for t in ISSUER_TYPES],
        "properties": {
            "acme": {"type": "object", "required": ["server", "privateKeySecretRef"],
                     "properties": {"server": {"type": "string", "pattern": "^https://"},
                                    "privateKeySecretRef": {"type": "object", "required": ["name"]},
                                    "solvers": {"type": "array"}}},
            "ca": {"type": "object", "required": ["secretName"], "properties": {"secretName": STRING}},
            "selfSigned": {"type": "object"},
        },
    }},
}

LISTENER = {"type": "object", "required": ["name", "port", "protocol"],
            "properties": {"name": STRING, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                           "protocol": STRING, "hostname": STRING}}
GATEWAY = {
    "type": "object",
    "required": ["spec"],
    "properties": {"spec": {
        "type": "object",
        "required": ["gatewayClassName", "listeners"],
        "properties": {"gatewayClassName": STRING,
                       "listeners": {"type": "array", "minItems": 1, "maxItems": 64, "items": LISTENER}},
    }},
}
HTTPROUTE = {
    "type": "object",
    "properties": {"spec": {
        "type": "object",
        "properties": {"parentRefs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                                 "properties": {"name": STRING}}},
                       "hostnames": {"type": "array", "items": STRING},
                       "rules": {"type": "array"}},
    }},
}

#: AWS Load Balancer Controller v2 (elbv2.k8s.aws/v1beta1): serviceRef and targetGroupARN required,
#: targetType instance or ip, the port a number or a port name.
TARGET_GROUP_BINDING = {
    "type": "object",
    "required": ["spec"],
    "properties": {"spec": {
        "type": "object", "required": ["serviceRef", "targetGroupARN"],
        "properties": {"serviceRef": {"type": "object", "required": ["name", "port"],
                                      "properties": {"name": STRING, "port": {"type": ["integer", "string"]}}},
                       "targetGroupARN": {"type": "string", "pattern": "^arn:"},
                       "targetType": {"enum": ["instance", "ip"]}},
    }},
}

#: (group, kind) -> schema of the whole object.
SCHEMAS: dict[tuple[str, str], dict] = {
    ("cert-manager.io", "Certificate"): CERTIFICATE,
    ("cert-manager.io", "Issuer"): ISSUER,
    ("cert-manager.io", "ClusterIssuer"): ISSUER,
    ("gateway.networking.k8s.io", "Gateway"): GATEWAY,
    ("gateway.networking.k8s.io", "HTTPRoute"): HTTPROUTE,
    ("elbv2.k8s.aws", "TargetGroupBinding"): TARGET_GROUP_BINDING,
}
