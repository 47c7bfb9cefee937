"""Issue 17, item 2: the mesh accepted TLS 1.2. Mesh mTLS now refuses it (istiod's
meshMTLS.minProtocolVersion), the gateway stays TLS 1.3-only, and the edge offers X25519MLKEM768
first with an X25519 fallback; the pack checks both."""
from __future__ import annotations

import importlib

import pytest

from components.mesh_tls import EDGE_ECDH_CURVES, mesh_tls_values, with_tls13_floor
from tests.harness import charts, k8s, of_type, prod_document, render_records, reviewed

POLICY = importlib.import_module("policy_pack.policies.mesh_enforce_tls13_hybrid_kex").POLICY


def findings(records) -> list[str]:
    return [m for r in records for m in POLICY.run(r.type, r.inputs, None, r.name)]


@pytest.fixture(scope="module")
def prod():
    return render_records()


def test_istiod_sets_the_mesh_minimum_to_tls13(prod):
    (istiod,) = charts(prod, "istiod")
    assert istiod.inputs["values"]["meshConfig"]["meshMTLS"] == {"minProtocolVersion": "TLSV1_3"}
    # the rest of meshConfig is untouched by the floor
    assert istiod.inputs["values"]["meshConfig"]["trustDomain"] == "lego-mcp.io"


def test_the_gateway_offers_hybrid_post_quantum_first_then_x25519(prod):
    (f,) = k8s(prod, "EnvoyFilter", "public-tls13", "istio-ingress")
    params = f["spec"]["configPatches"][0]["patch"]["value"]["transport_socket"]["typed_config"]["common_tls_context"][
        "tls_params"]
    assert params["ecdh_curves"] == ["X25519MLKEM768", "X25519"] == list(EDGE_ECDH_CURVES)
    assert params["tls_minimum_protocol_version"] == params["tls_maximum_protocol_version"] == "TLSv1_3"


def test_the_prod_render_passes_the_pack_policy(prod):
    judged = [r for r in prod if POLICY.applies_to(r.type)]
    # the istiod Chart reaches the pack with no properties: the mesh ConfigMap it renders is judged
    assert {r.type for r in judged} >= {"kubernetes:core/v1:ConfigMap", "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter",
                                        "aws:lb/listener:Listener"}
    assert any(r.type == "kubernetes:core/v1:ConfigMap" and r.inputs["metadata"]["name"] == "istio"
               and "minProtocolVersion: TLSV1_3" in r.inputs["data"]["mesh"] for r in judged)
    assert findings(prod) == []


def test_an_override_back_to_tls12_is_visible_and_caught():
    doc = prod_document()
    doc["mesh"]["extraValues"] = {"meshConfig": {"meshMTLS": {"minProtocolVersion": "TLSV1_2"}}}
    records = render_records(reviewed({"mesh": doc["mesh"]}))
    (istiod,) = charts(records, "istiod")
    assert istiod.inputs["values"]["meshConfig"]["meshMTLS"]["minProtocolVersion"] == "TLSV1_2"
    (msg,) = findings(records)
    assert "minProtocolVersion is TLSV1_2" in msg


def test_a_classical_alb_policy_is_caught():
    doc = prod_document()
    doc["ingress"]["alb"]["sslPolicy"] = "ELBSecurityPolicy-TLS13-1-3-2021-06"
    records = render_records(reviewed({"ingress": doc["ingress"]}))
    (msg,) = findings(records)
    assert "offers no hybrid post-quantum key exchange" in msg


def test_floor_sits_under_the_values():
    assert with_tls13_floor({"meshConfig": {"trustDomain": "x"}}) == {
        "meshConfig": {"trustDomain": "x", **mesh_tls_values()["meshConfig"]}}
    assert with_tls13_floor({"meshConfig": {"meshMTLS": {"minProtocolVersion": "TLSV1_2"}}})["meshConfig"][
        "meshMTLS"]["minProtocolVersion"] == "TLSV1_2"
