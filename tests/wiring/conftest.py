"""The rendered prod stack, once per session, as the wiring policies see it (every registered
resource: Kubernetes objects, chart children, AWS resources and the HardenedStack component), and
the same stack with two workloads under emergency isolation."""
from __future__ import annotations

import pytest

from policy_pack.policies._lib.wiring import objects_of
from tests.harness import render_records

#: One isolated workload per kind of intent: a named peer (lego-mcp-prod/mcp-server) and the
#: destination of a namespace-wide intent (ltmc-production/* -> ltmc-mcp-server).
ISOLATED = ["lego-mcp-prod/mcp-server", "ltmc-production/ltmc-mcp-server"]


@pytest.fixture(scope="session")
def prod_records():
    return render_records()


@pytest.fixture(scope="session")
def prod_objects(prod_records):
    return objects_of(prod_records)


@pytest.fixture(scope="session")
def isolated_records():
    return render_records({"isolate": ISOLATED})


def manifests(records) -> list[dict]:
    """The Kubernetes objects of a render, as plain manifests."""
    return [r.inputs for r in records if r.is_kubernetes_object]
