"""Run checkov's Kubernetes framework in-process over a directory of manifests and print one JSON
document on stdout.

Runs inside ``venv-checkov`` (checkov pins ``packaging<24``; pulumi needs ``>=26``)::

    venv-checkov/bin/python tests/judges/checkov_runner.py DIR

Output: ``passed``/``failed``/``skipped`` counts, ``parsing_errors``, ``resource_count`` (checkov's
own count: it adds a ``Pod`` for every workload's pod template), ``files`` (the manifest files
checkov parsed at least one resource from, relative to DIR: a file it silently dropped is missing
here), ``dropped`` (each manifest file checkov parsed nothing from, with why: see
``drop_reason``), ``failed_checks`` and ``skipped_checks`` (check id, name, resource, file), and
``seconds`` (the scan, imports excluded). Nothing is skipped here: the judge test decides what a
listed skip covers, so a skip that no longer fires is noticed.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time


HELM_TEMPLATE_TEXT = "helm-template-text"


def drop_reason(path: str) -> str:
    """Why checkov's Kubernetes parser yields no resource from ``path``, asked of checkov's own
    loader (so the reason follows checkov, not a copy of its rules).

    ``helm-template-text``: checkov's YAML loader returns an empty document, without a message,
    for any file whose text contains ``{{ .Values.`` or ``{{ .Release.`` (its guard against
    scanning an un-rendered Helm template), wherever that text sits, a ConfigMap's data included.
    Istio's sidecar injector ConfigMap carries the injection templates istiod evaluates at pod
    admission, in exactly that syntax, so a correct rendered manifest is dropped. This is a
    limitation of checkov's parser, not of the manifest; the judge test accepts this one reason,
    for ConfigMaps only, and checks itself what checkov would have checked on them.
    """
    from pathlib import Path

    import yaml
    from checkov.kubernetes.parser import k8_yaml
    from checkov.kubernetes.parser.validatior import K8sValidator

    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if not ("apiVersion" in text and "kind" in text):
        return "no-apiVersion-or-kind"
    try:
        docs, lines = k8_yaml.load(Path(path))
    except yaml.YAMLError as exc:
        return f"yaml-error: {str(exc).splitlines()[0]}"
    if docs == [{}] and not lines:
        return HELM_TEMPLATE_TEXT
    reasons = [K8sValidator.is_valid_template(d)[1] for d in docs if isinstance(d, dict)]
    return "not-a-valid-k8s-template: " + "; ".join(str(r) for r in reasons if r) if reasons else "unknown"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: checkov_runner.py DIR", file=sys.stderr)
        return 2
    root = os.path.abspath(argv[0])
    logging.disable(logging.WARNING)  # checkov logs parse problems as warnings; we count files instead
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    start = time.perf_counter()
    report = Runner().run(root_folder=root, runner_filter=RunnerFilter(framework=["kubernetes"]))
    seconds = time.perf_counter() - start
    summary = report.get_summary()

    def rel(path: str) -> str:  # checkov reports files relative to root_folder, with a leading "/"
        return path.lstrip("/")

    def row(check) -> dict:
        return {"id": check.check_id, "name": check.check_name, "resource": check.resource,
                "file": rel(check.file_path)}

    files = set()
    for key in report.resources:
        path = key.split(":", 1)[0]
        files.add(os.path.relpath(path, root) if os.path.isabs(path) else path.lstrip("/"))
    written = set()
    for dirpath, _dirs, names in os.walk(root):
        written.update(os.path.relpath(os.path.join(dirpath, n), root) for n in names
                       if n.endswith((".yaml", ".yml", ".json")))
    dropped = {f: drop_reason(os.path.join(root, f)) for f in sorted(written - files)}
    doc = {
        "dropped": dropped,
        "passed": summary["passed"],
        "failed": summary["failed"],
        "skipped": summary["skipped"],
        "parsing_errors": summary["parsing_errors"],
        "resource_count": summary["resource_count"],
        "files": sorted(files),
        "failed_checks": sorted((row(c) for c in report.failed_checks), key=lambda r: (r["id"], r["resource"])),
        "skipped_checks": sorted(({**row(c), "comment": (c.check_result or {}).get("suppress_comment", "")}
                                  for c in report.skipped_checks), key=lambda r: (r["id"], r["resource"])),
        "seconds": round(seconds, 3),
        "checkov_version": summary.get("checkov_version"),
    }
    json.dump(doc, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
