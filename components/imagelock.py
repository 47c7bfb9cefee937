"""``images.lock``: the digest of every image the stack deploys, applied to what it deploys.

``python -m hardened images pin`` writes the lock (each image reference as the stack renders it,
resolved through the OCI distribution API). The program applies it in two places, which together
cover every container:

- the upstream charts' objects, through ``helm.v4.Chart``'s ``postRenderer``
  (pulumi-kubernetes ``provider/pkg/provider/helm/v4/chart.go``, ``ChartProvider.Construct``:
  ``postrender.NewExec(PostRenderer.Command, PostRenderer.Args...)`` becomes the template action's
  post-renderer, so the provider pipes the rendered manifests through the command before it
  registers the objects, as ``helm template --post-renderer`` does): :func:`post_renderer_args`
  names this file as the command (absolute paths: the interpreter running the program and this
  checkout), and :func:`main` (stdin to stdout) rewrites each locked image to
  ``<image>@sha256:<digest>``. The offline engine applies the same :func:`apply` in-process
  (hardened/render.py), and a test runs the command itself;
- the components' own objects, whose ``imageDigest`` fields default to the lock's digest
  (:func:`locked_digest`).

An image the lock does not name is left as it is (and stays governed by the pack's
``container-disallow-mutable-image-tags`` and its exemptions); a reference that already carries a
digest is never changed. An empty lock changes nothing, so the program's inputs stay what they were.

File format (YAML, keys sorted)::

    images:
      docker.io/hashicorp/vault:2.0.4: sha256:<64 hex>
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

LOCK_NAME = "images.lock"
LOCK_ENV = "HARDENED_IMAGES_LOCK"
ROOT = Path(__file__).resolve().parent.parent
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
#: Where a pod spec sits in each kind that carries one.
_POD_SPEC = {
    "Pod": ("spec",), "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"), "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"), "PodTemplate": ("template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def lock_path() -> Path:
    raw = os.environ.get(LOCK_ENV)
    return Path(raw).expanduser() if raw else ROOT / LOCK_NAME


def load(path: Optional[os.PathLike | str] = None) -> dict[str, str]:
    """``{image reference: sha256 digest}``; empty when the file is missing or lists nothing."""
    path = Path(path) if path else lock_path()
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    images = doc.get("images") or {}
    if not isinstance(images, Mapping):
        raise ValueError(f"{path}: `images` must map image references to sha256 digests")
    bad = [k for k, v in images.items() if not isinstance(v, str) or not DIGEST.match(v)]
    if bad:
        raise ValueError(f"{path}: not a sha256 digest for {', '.join(sorted(map(str, bad)))}; "
                         "rewrite it with `python -m hardened images pin`")
    return {str(k): str(v) for k, v in images.items()}


def pinned(image: str, lock: Mapping[str, str]) -> str:
    """*image* with its locked digest appended; unchanged when it has a digest or is not locked."""
    if "@" in image or image not in lock:
        return image
    return f"{image}@{lock[image]}"


def locked_digest(image: str, lock: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The lock's digest of *image* (``repo:tag``), for a component's ``imageDigest`` default."""
    return (load() if lock is None else lock).get(image)


def pod_spec(obj: Mapping[str, Any]) -> Optional[dict]:
    node: Any = obj
    for key in _POD_SPEC.get(str(obj.get("kind")), ()) or (None,):
        if key is None or not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, dict) else None


def images_of(obj: Mapping[str, Any]) -> list[str]:
    spec = pod_spec(obj) or {}
    return [c["image"] for key in CONTAINER_LISTS for c in spec.get(key) or []
            if isinstance(c, Mapping) and isinstance(c.get("image"), str)]


def apply(obj: dict, lock: Mapping[str, str]) -> dict:
    """Pin every container image of *obj* (in place) that the lock names."""
    spec = pod_spec(obj)
    if spec and lock:
        for key in CONTAINER_LISTS:
            for container in spec.get(key) or []:
                if isinstance(container, dict) and isinstance(container.get("image"), str):
                    container["image"] = pinned(container["image"], lock)
    return obj


def apply_stream(text: str, lock: Mapping[str, str]) -> str:
    """A post-renderer: a YAML stream in, the same objects with locked images out."""
    docs: Iterable[Any] = yaml.safe_load_all(text)
    out = [apply(d, lock) if isinstance(d, dict) else d for d in docs if d is not None]
    return yaml.safe_dump_all(out, sort_keys=True, default_flow_style=False, width=1 << 16)


def post_renderer_args(lock: Optional[Mapping[str, str]] = None) -> Optional[dict]:
    """``helm.v4.Chart``'s ``postRenderer`` input when the lock names any image, else None (an
    empty lock leaves the Chart's inputs as they were)."""
    lock = load() if lock is None else lock
    if not lock:
        return None
    return {"command": sys.executable, "args": [str(Path(__file__).resolve()), str(lock_path().resolve())]}


def main(argv: Optional[list[str]] = None) -> int:
    """``python components/imagelock.py [LOCK]``: the post-renderer the provider runs."""
    argv = sys.argv[1:] if argv is None else argv
    lock = load(argv[0] if argv else None)
    sys.stdout.write(apply_stream(sys.stdin.read(), lock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
