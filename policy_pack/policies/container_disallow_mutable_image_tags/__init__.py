"""container-disallow-mutable-image-tags: every image is pinned by digest.

A tag (``:latest`` above all) can be moved to other content after review; a digest cannot. With
``requireDigest: false`` the policy only refuses ``:latest`` and untagged images.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import DIGEST, POD_KINDS, PodSpec, container_findings, get_str, parse_image, reference_problem


def check(obj, config):
    require_digest = config["requireDigest"]

    def _container(c):
        image = get_str(c.obj, "image", c.path)
        if not image:
            yield finding("no-image", f"{c.label} names no image ({c.path}.image); name one pinned by digest")
            return
        problem = reference_problem(image)
        if problem:  # what is wrong with it, not "tags are mutable" (distribution reference grammar)
            yield finding("invalid-reference", f"{c.label} image {image!r} is not a valid image reference: {problem}; "
                          f"no runtime can pull it ({c.path}.image)")
            return
        ref = parse_image(image)
        if ref.digest:
            if not DIGEST.match(ref.digest):
                yield finding("malformed-digest", f"{c.label} image {image} has a malformed digest; use <image>@sha256:<64 hex digits> "
                       f"({c.path}.image)")
            return
        if ref.tag in (None, "latest"):
            what = "the mutable :latest tag" if ref.tag else "no tag (which means :latest)"
            yield finding("mutable-tag", f"{c.label} image {image} uses {what}; pin it by digest: <image>@sha256:<digest> ({c.path}.image)")
        elif require_digest:
            yield finding("tag-only", f"{c.label} image {image} is pinned by tag only, and tags can move; pin it by digest: "
                   f"{ref.full_name}:{ref.tag}@sha256:<digest> ({c.path}.image)")

    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="container-disallow-mutable-image-tags",
    description="Container images must be pinned by digest (never :latest or a bare tag).",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.4.1"),
    tags=["cmmc:CM.L2-3.4.1", "iec62443:SR 3.4", "nist800-207:tenet-5", "cis-k8s:5.5.1"],
    remediation="""
Reference every image by digest (registry/name@sha256:<digest>, optionally keeping the tag for
readers: name:1.2.3@sha256:<digest>). Resolve digests in CI (e.g. `crane digest`) and let the
signature check verify that digest.""",
    config={
        "requireDigest": {"type": "boolean", "default": True,
                          "description": "Require a digest; false only refuses :latest and untagged images."},
    },
    check=check,
)
