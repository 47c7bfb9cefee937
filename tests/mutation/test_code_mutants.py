"""One-line mutants of the policies' own code must each fail the samples: a check whose every
mutant survives is a check no sample proves. The samples test runs over gRPC; here each mutant's
module is compiled in this process from the policy's source with one line changed, and its verdicts
on the policy's samples are compared with what each sample expects (``# expect:`` keys for a
disallowed sample, nothing for an allowed one). A mutant is killed when any sample's outcome
changes. The list starts with the five checks issue 27 found surviving every test (the nginx HSTS
minimum age, HSTS preload, the ssl-redirect check, Falco's http_output, the KMS key spec) and the
checks written for that issue.
"""
from __future__ import annotations

import types

import pytest

from hardened.manifests import load_path
from policy_pack.policies import PACKAGE_DIR
from policy_pack.policies._lib.framework import message_key

from tests.policy.helpers import expected_findings, in_process_findings, samples

#: (policy package, the line's text, its mutant).
MUTANTS = [
    ("configmap_configure_nginx_tls13_hsts", "int(age) < ONE_YEAR", "int(age) <= ONE_YEAR"),
    ("configmap_configure_nginx_tls13_hsts", "int(age) < ONE_YEAR", "int(age) < ONE_YEAR - 1"),
    ("configmap_configure_nginx_tls13_hsts", 'go_bool(value("hsts-preload"), False, empty=False) is not True',
     'go_bool(value("hsts-preload"), True, empty=False) is not True'),
    ("configmap_configure_nginx_tls13_hsts", 'go_bool(value("hsts-preload"), False, empty=False) is not True',
     'value("hsts-preload") == "false"'),
    ("configmap_configure_nginx_tls13_hsts", 'go_bool(value("ssl-redirect"), True, empty=False) is False',
     'value("ssl-redirect") == "false"'),
    ("configmap_configure_nginx_tls13_hsts", 'and go_bool(value("force-ssl-redirect"), False, empty=False) is not True',
     "and True"),
    ("configmap_configure_nginx_tls13_hsts", 'go_bool(value("hsts"), True, empty=False) is not True',
     'value("hsts") not in (None, "true")'),
    ("ingress_missing_tls", "and go_bool(annotations.get(k), True) is False]",
     'and str(annotations.get(k)).strip().lower() == "false"]'),
    ("stack_missing_runtime_detection", 'if not (on and isinstance(http.get("url"), str) and http.get("url")):',
     "if not on:"),
    ("stack_missing_runtime_detection", 'if not (on and isinstance(http.get("url"), str) and http.get("url")):',
     'if not (isinstance(http.get("url"), str) and http.get("url")):'),
    ("stack_missing_runtime_detection",
     'on = (enabled == "true") if enabled is not None else http.get("enabled") is True',
     'on = http.get("enabled") is True'),
    ("kms_enable_key_rotation",
     'spec = get_str(props, "customerMasterKeySpec", "") or get_str(props, "keySpec", "") or "SYMMETRIC_DEFAULT"',
     'spec = get_str(props, "customerMasterKeySpec", "") or "SYMMETRIC_DEFAULT"'),
    ("kms_enable_key_rotation", "    if spec not in _ROTATABLE:", "    if False:"),
    ("kms_enable_key_rotation", 'if get_str(props, "keyUsage", "") not in (None, "ENCRYPT_DECRYPT"):', "if False:"),
    ("kms_enable_key_rotation", "if days is not None and not KMS_MIN_DAYS <= days <= maximum:",
     "if days is not None and not KMS_MIN_DAYS <= days < maximum:"),
    ("kms_enable_key_rotation", "if days is not None and not KMS_MIN_DAYS <= days <= maximum:",
     "if days is not None and not days <= maximum:"),
    ("role_disallow_escalation_paths", "if _grants(rule, (\"create\",), \"\", \"serviceaccounts/token\") and not rule.names:",
     "if _grants(rule, (\"create\",), \"\", \"serviceaccounts/token\"):"),
    ("role_disallow_escalation_paths", 'return bool(rule.names) and not any(n == "*" or n.startswith("kubernetes.io/") for n in rule.names)',
     "return bool(rule.names)"),
    ("networkpolicy_disallow_metadata_egress", "and not any(e.version == a.version and a in e for e in excepts)]", "]"),
    ("networkpolicy_disallow_metadata_egress", "            continue  # a named port names a pod's port; the metadata service is no pod",
     "            return True"),
    ("serviceentry_disallow_broad_egress", 'if host == "*" or (labels[0] == "*" and len(labels) == 2):', 'if host == "*":'),
    ("destinationrule_disallow_tls_downgrade", 'elif mesh and mode in ("SIMPLE", "MUTUAL"):', 'elif mode in ("SIMPLE", "MUTUAL"):'),
    ("manifest_disallow_credential_patterns", "if rule == \"aws-access-token\" and _AWS_EXAMPLE.search(m.group(1)):",
     "if False:"),
    ("manifest_disallow_credential_patterns", "if rule == \"url-password\" and _PLACEHOLDER.match(m.group(1)):", "if False:"),
    ("ingress_disallow_nginx_snippets", "if value is not None and not (isinstance(value, str) and not value.strip()):",
     "if value is not None:"),
    ("webhook_disallow_admission_bypass", 'if get_str(hook, "failurePolicy", path) == "Ignore" and name != GATEKEEPER_VALIDATION:',
     'if get_str(hook, "failurePolicy", path) == "Ignore":'),
    ("webhook_disallow_admission_bypass", "if who != \"istio\" and (get_map(hook, \"objectSelector\", path) or {}):",
     "if (get_map(hook, \"objectSelector\", path) or {}):"),
    ("constraint_enforce_deny_action", 'if any(p in (WEBHOOK_POINT, "*") for p in points):', "if points:"),
    ("clustersecretstore_missing_namespace_conditions", 'return all(pattern.search(p) for p in _PROBES)',
     'return pattern.pattern in (".*", "^.*$")'),
    ("clustersecretstore_missing_namespace_conditions",
     'if op in ("NotIn", "DoesNotExist") or (op == "Exists" and key == _NAME_LABEL):', 'if False:'),
    ("envoyfilter_disallow_security_bypass", "elif touched and operation not in ADDING:", "elif touched:"),
]


def _mutant_policy(package: str, old: str, new: str):
    source = (PACKAGE_DIR / package / "__init__.py").read_text()
    assert source.count(old) == 1, f"{package}: the mutated line is not unique (or gone): {old!r}"
    module = types.ModuleType(f"policy_pack.policies.{package}")
    module.__package__ = f"policy_pack.policies.{package}"
    module.__file__ = str(PACKAGE_DIR / package / "__init__.py")
    exec(compile(source.replace(old, new), module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module.POLICY


#: The engine's marker of a value unknown at preview: only the pack process's proxies turn it into a
#: "cannot verify" finding, so those samples are left to the samples test.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _samples(package: str):
    return [s for s in samples(package.replace("_", "-")) if UNKNOWN not in s.read_text()]


def _outcomes(policy, package: str) -> dict[str, frozenset]:
    out = {}
    for sample in _samples(package):
        keys = frozenset(message_key(m) for m in in_process_findings(policy, load_path(sample)))
        out[sample.name] = keys
    return out


def _expected(package: str) -> dict[str, frozenset]:
    return {s.name: frozenset(k for _, k in expected_findings(s)) for s in _samples(package)}


@pytest.mark.parametrize("package,old,new", MUTANTS, ids=[f"{p}:{n[:40]}" for p, _, n in MUTANTS])
def test_each_code_mutant_fails_a_sample(package, old, new):
    from policy_pack.policies import load_policy

    expected = _expected(package)
    assert _outcomes(load_policy(package), package) == expected, "the unmutated policy must agree with its samples"
    mutated = _outcomes(_mutant_policy(package, old, new), package)
    assert mutated != expected, f"mutant survives every sample of {package}: {old!r} -> {new!r}"
