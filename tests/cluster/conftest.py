"""One prod render for the cluster tests (the stack creates its cluster: Pulumi.prod.yaml sets
cluster.create), recording which provider each resource was registered with."""
from __future__ import annotations

import pytest

from tests.harness import ROOT


@pytest.fixture(scope="session")
def prod():
    """``(records, providers)``: what the prod program registered, and each resource's provider
    reference (``urn::id``) by URN, as the engine receives it."""
    from hardened import render

    providers: dict[tuple[str, str], str] = {}
    original = render._make_mocks

    def recording(*args, **kwargs):
        mocks, monitor = original(*args, **kwargs)
        inner = mocks.new_resource

        def new_resource(margs):
            providers[(margs.typ, margs.name)] = margs.provider or ""
            return inner(margs)

        mocks.new_resource = new_resource
        return mocks, monitor

    render._make_mocks = recording
    try:
        records = render.run_program("prod", ROOT)
    finally:
        render._make_mocks = original
    return records, providers
