"""Exemptions that apply to nothing, like an unused ``noqa``: render matches every entry of
policy_pack/exemptions.yaml against the objects it rendered, with the policies' own matcher (kind,
namespace, name, images). An unused entry warns while it is new (``added`` within the grace
period) and then stops render; an entry for an object only some settings deploy (``when``), or for
a namespace the stack does not deploy at all, is dormant, not unused."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hardened import render
from hardened.engine import Registered
from policy_pack.policies._lib import exemptions as ex

TODAY = dt.date(2026, 12, 4)


def entry(**extra) -> ex.Exemption:
    raw = {"id": "probe", "owner": {"team": "t", "contact": "c@example.org"},
           "policies": ["pod-disallow-root-user"],
           "resource": {"kind": "DaemonSet", "namespace": "falco", "name": "falco"},
           "images": ["docker.io/falcosecurity/falco"],
           "reason": "the probe entry of this test", "expires": "2027-06-30"}
    raw.update(extra)
    return ex.parse_exemption(raw, "exemptions[0]")


def daemonset(name="falco", namespace="falco", image="docker.io/falcosecurity/falco:0.44.1") -> Registered:
    inputs = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": namespace},
              "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}
    return Registered(urn=f"urn:{namespace}/{name}", type="kubernetes:apps/v1:DaemonSet", name=name, parent="",
                      custom=True, inputs=inputs)


def namespace(name: str) -> Registered:
    return Registered(urn=f"urn:ns/{name}", type="kubernetes:core/v1:Namespace", name=name, parent="", custom=True,
                      inputs={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def unused(entries, records, config=None):
    return ex.unused(entries, list(render.rendered_objects(records)), config)


def test_an_entry_naming_a_rendered_object_is_used():
    assert unused([entry()], [daemonset()]) == []


@pytest.mark.parametrize("record", [
    daemonset(name="falco-old"),                                   # the object was renamed
    daemonset(image="ghcr.io/someone/falco:1"),                    # it runs another image now
], ids=["renamed", "other-image"])
def test_an_entry_naming_no_rendered_object_is_unused(record):
    e = entry()
    assert unused([e], [record]) == [e]


def test_an_entry_for_a_namespace_the_stack_does_not_deploy_is_dormant():
    assert unused([entry()], [namespace("vault"), daemonset(namespace="other")]) == []
    # the namespace exists (by a Namespace object alone too): now it is unused
    assert [e.id for e in unused([entry()], [namespace("falco")])] == ["probe"]


def test_when_makes_an_entry_dormant_outside_the_settings_that_deploy_its_object():
    e = entry(when={"equals": {"vault.edition": "enterprise"}})
    records = [namespace("falco")]
    assert unused([e], records, {"vault": {"edition": "community"}}) == []
    assert unused([e], records, {}) == [], "an unset key is not equal to the value"
    assert unused([e], records, {"vault": {"edition": "enterprise"}}) == [e]
    s = entry(when={"set": ["runtimeDetection.siem.splunk"], "unset": ["runtimeDetection.siem.splunk.tokenVaultKey"]})
    assert unused([s], records, {"runtimeDetection": {"siem": {"splunk": {"url": "u", "tokenVaultKey": "k"}}}}) == []
    assert unused([s], records, {"runtimeDetection": {}}) == []
    assert unused([s], records, {"runtimeDetection": {"siem": {"splunk": {"url": "u"}}}}) == [s]


@pytest.mark.parametrize("when, message", [
    ("enterprise", "'when' must be a mapping"),
    ({"equal": {}}, "did you mean 'equals'"),
    ({"set": "vault.edition"}, "'when.set' must be a list"),
])
def test_a_malformed_when_is_refused_naming_the_key(when, message):
    with pytest.raises(ex.ExemptionError, match=message):
        entry(when=when)


def test_the_grace_period_runs_from_added():
    fresh = entry(added=(TODAY - dt.timedelta(days=ex.UNUSED_GRACE_DAYS)).isoformat())
    stale = entry(added=(TODAY - dt.timedelta(days=ex.UNUSED_GRACE_DAYS + 1)).isoformat())
    undated = entry()
    assert not ex.unused_overdue(fresh, TODAY)
    assert "render fails on it in 0 days" in ex.unused_message(fresh, TODAY)
    assert ex.unused_overdue(stale, TODAY) and "more than 14 days ago" in ex.unused_message(stale, TODAY)
    assert ex.unused_overdue(undated, TODAY) and "no 'added' date" in ex.unused_message(undated, TODAY)
    with pytest.raises(ex.ExemptionError, match="'added' .* is after 'expires'"):
        entry(added="2027-07-01")


def test_every_entry_of_the_file_names_an_object_of_prod_or_is_dormant_by_its_settings():
    from tests.harness import render_records

    records = render_records()
    assert render.unused_exemptions(records, "prod") == []
    # the conditional entries are dormant in prod because of their `when`, not by accident
    dormant = {e.id for e in ex.load_exemptions() if e.when and not ex.condition_holds(e, render.stack_sections("prod"))}
    assert {"vault-enterprise-license", "falcosidekick-siem-token"} <= dormant


def test_render_stops_on_an_unused_entry_past_its_grace_period(monkeypatch, tmp_path, capsys):
    """The command's own path: an entry for an object prod does not have (a renamed Falco)."""
    text = Path(ex.DEFAULT_PATH).read_text(encoding="utf-8")
    text += ("\n  - id: stale-falco-entry\n    owner: {team: t, contact: c@example.org}\n"
             "    policies: [pod-disallow-root-user]\n"
             "    resource: {kind: DaemonSet, namespace: falco, name: falco-renamed}\n"
             "    images: [docker.io/falcosecurity/falco]\n"
             "    reason: left behind after the DaemonSet was renamed\n    expires: 2099-01-01\n")
    path = tmp_path / "exemptions.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(ex, "DEFAULT_PATH", path)
    status = render.main(["--stack", "prod", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    [line] = [l for l in err.splitlines() if "stale-falco-entry" in l]
    assert line.startswith("render: error: ") and "falco/falco-renamed" in line and "applies to nothing" in line
