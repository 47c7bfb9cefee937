"""What the upstream components read, and a small IAM evaluator, for the data-path tests.

The facts below come from the upstream sources, read with the `fetch` tool; each names its file and
function. Where a mirror of the upstream repository is on this machine
(``$HARDENED_UPSTREAM_MIRROR``, default ``/work/.mirror``), :func:`upstream_text` reads the file at
the pinned tag and the tests check the facts against it; elsewhere those checks are skipped and the
recorded facts stand.
"""
from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path
from typing import Any, Optional

MIRROR = Path(os.environ.get("HARDENED_UPSTREAM_MIRROR", "/work/.mirror"))


def upstream_text(repo: str, ref: str, path: str) -> Optional[str]:
    """``path`` at ``ref`` in the local mirror of ``owner/name``, or None when there is no mirror."""
    git_dir = MIRROR / repo.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        return None
    out = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{ref}:{path}"], capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None


def assert_upstream_fact(repo: str, tag: str, path: str, needles: list[str], fact: str) -> None:
    """Each of *needles* is in *path* of *repo* at *tag* (the recorded *fact*); skipped without a mirror."""
    import pytest

    text = upstream_text(repo, tag, path)
    if text is None:
        pytest.skip(f"no mirror of {repo} here: the recorded fact stands ({fact})")
    for needle in needles:
        assert needle in text, f"{repo}@{tag} {path}: {fact}"


# --- falcosidekick 2.34.1 --------------------------------------------------------------------------
#: config.go, getConfig: the AWS keys it declares with v.SetDefault, read from the environment by
#: viper's AutomaticEnv with '.' -> '_' (v.SetEnvKeyReplacer), upper case. viper skips an empty
#: variable (AllowEmptyEnv is never called), so "" falls back to the default.
SIDEKICK_AWS_DEFAULTS = {
    "AWS_REGION": "", "AWS_ROLEARN": "", "AWS_EXTERNALID": "", "AWS_CHECKIDENTITY": "true",
    "AWS_S3_BUCKET": "", "AWS_S3_PREFIX": "falco", "AWS_S3_MINIMUMPRIORITY": "", "AWS_S3_ENDPOINT": "",
    "AWS_S3_OBJECTCANNEDACL": "bucket-owner-full-control",
}


def sidekick_settings(env: dict[str, str]) -> dict[str, str]:
    """falcosidekick's effective AWS settings for a container environment (viper semantics)."""
    return {k: (env[k] if env.get(k) else default) for k, default in SIDEKICK_AWS_DEFAULTS.items()}


def sidekick_s3_key(settings: dict[str, str], when: str = "2026-12-04T23:00:00.000000001Z") -> str:
    """outputs/aws.go, UploadS3: ``<prefix>/<YYYY-MM-DD>/<RFC3339Nano>.json``."""
    return f"{settings['AWS_S3_PREFIX']}/{when[:10]}/{when}.json"


# --- amazon-eks-pod-identity-webhook ---------------------------------------------------------------
#: pkg/handler/handler.go: the annotation it reacts to, the variables and the token path it injects
#: (getPodSpecPatch patches containers and init containers alike), its default audience.
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
DEFAULT_AUDIENCE = "sts.amazonaws.com"


def webhook_env(service_account: dict) -> dict[str, str]:
    """The variables the pod identity webhook adds to every container of a pod of this SA."""
    arn = service_account["metadata"].get("annotations", {}).get(ROLE_ANNOTATION)
    return {"AWS_ROLE_ARN": arn, "AWS_WEB_IDENTITY_TOKEN_FILE": TOKEN_FILE} if arn else {}


def web_identity_role(env: dict[str, str]) -> Optional[str]:
    """The AWS SDKs' default chain (aws-sdk-go-v2 config.LoadDefaultConfig, Fluent Bit's
    flb_aws_credentials_sts.c): no static keys, then web identity from AWS_ROLE_ARN and
    AWS_WEB_IDENTITY_TOKEN_FILE."""
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return None
    if env.get("AWS_ROLE_ARN") and env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return env["AWS_ROLE_ARN"]
    return None


# --- a small IAM evaluator (identity policies: Allow with StringEquals / StringLike / ArnLike) ------

def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for op, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                return False
            if op == "StringEquals" and actual not in _as_list(expected):
                return False
            if op in ("StringLike", "ArnLike") and not any(fnmatch.fnmatchcase(actual, e) for e in _as_list(expected)):
                return False
            if op not in ("StringEquals", "StringLike", "ArnLike"):
                return False
    return True


def allows(policy: dict, action: str, resource: str, context: Optional[dict[str, str]] = None) -> bool:
    """Whether *policy* allows *action* on *resource* in *context* (explicit Deny wins)."""
    allowed = False
    for s in policy["Statement"]:
        if not any(fnmatch.fnmatchcase(action, a) for a in _as_list(s["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(s["Resource"])):
            continue
        if "Condition" in s and not _condition_holds(s["Condition"], context or {}):
            continue
        if s["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def trusts_web_identity(trust: dict, provider_host: str, namespace: str, service_account: str,
                        audience: str = DEFAULT_AUDIENCE) -> bool:
    """Whether a role's trust lets ``namespace/service_account``'s projected token assume it with
    sts:AssumeRoleWithWebIdentity (the call the SDKs make from a web identity)."""
    context = {f"{provider_host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
               f"{provider_host}:aud": audience}
    return any(s["Effect"] == "Allow" and "sts:AssumeRoleWithWebIdentity" in _as_list(s["Action"])
               and "Federated" in s["Principal"] and _condition_holds(s.get("Condition", {}), context)
               for s in trust["Statement"])


def trusts_assume_role_from(trust: dict, principal: str) -> bool:
    return any(s["Effect"] == "Allow" and "sts:AssumeRole" in _as_list(s["Action"])
               and principal in _as_list(s["Principal"].get("AWS", [])) for s in trust["Statement"])
