"""manifest-disallow-credential-patterns passes a text with one search for the literals its
patterns need (``_REQUIRED``), and runs on a text only the patterns whose literal it holds
(``_NEEDS``). That shortcut is only right if every text a pattern matches holds that pattern's
literal: these tests generate matches of each pattern (hypothesis ``from_regex``), embedded in
arbitrary text, and check that both searches find them and that the policy's verdict is the one the
patterns alone give."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_pack.policies.manifest_disallow_credential_patterns import _NEEDS, _REQUIRED, PATTERNS, _match


class _Always:
    @staticmethod
    def search(text):
        return True


def _patterns_alone(text: str) -> list[str]:
    """The rules reported with the shortcuts removed (every literal search says yes)."""
    import policy_pack.policies.manifest_disallow_credential_patterns as policy

    saved = policy._REQUIRED, policy._NEEDS
    policy._REQUIRED, policy._NEEDS = _Always, dict.fromkeys(PATTERNS, _Always)
    try:
        return list(policy._match(text))
    finally:
        policy._REQUIRED, policy._NEEDS = saved


def test_every_rule_has_its_literal():
    assert set(_NEEDS) == set(PATTERNS)


@pytest.mark.parametrize("rule", sorted(PATTERNS))
def test_every_match_of_a_rule_holds_a_required_literal(rule):
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(before=st.text(max_size=8), match=st.from_regex(PATTERNS[rule], fullmatch=True), after=st.text(max_size=8))
    def check(before, match, after):
        text = before + match + after
        assert _NEEDS[rule].search(match), f"{rule}: {match!r} matches the rule but holds not its literal"
        assert _REQUIRED.search(match), f"{rule}: {match!r} matches the rule but holds none of the required literals"
        assert list(_match(text)) == _patterns_alone(text)

    check()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("AKISeyghp_xo-:/.@bsrkwz0129 ")), max_size=60))
def test_the_shortcut_never_changes_a_verdict(text):
    assert list(_match(text)) == _patterns_alone(text)


def _every_string(value, path):
    """The oracle: every string of a value with its path, read through the SDK's proxies (the
    policy's walk before it read past them), unknowns skipped, binaryData decoded."""
    import base64
    import binascii
    from collections.abc import Mapping

    from pulumi_policy.proxy import UnknownValueError

    from policy_pack.policies._lib.k8s import is_list, join

    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k in list(value.keys()):
            if path == "metadata" and k == "managedFields":
                continue
            if isinstance(k, str):
                yield join(path, k), k
            try:
                v = value[k]
            except UnknownValueError:
                continue
            if path == "binaryData" and isinstance(v, str):
                try:
                    yield join(path, str(k)), base64.b64decode(v, validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    pass
                continue
            yield from _every_string(v, join(path, str(k)))
    elif is_list(value):
        for i in range(len(value)):
            try:
                v = value[i]
            except UnknownValueError:
                continue
            yield from _every_string(v, join(path, i))


_CREDENTIALISH = st.sampled_from(["AKIAIOSFODNN7EXAMPL3", "x://u:pw@h", "xoxb-1234567890-abcdefghij", "a.b",
                                  "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
                                  "QUtJQUlPU0ZPRE5ON0VYQU1QTDM=", "not base64!", "-----BEGIN RSA PRIVATE KEY-----"])
_KEYS = st.sampled_from(["metadata", "managedFields", "binaryData", "data", "x", "ghp_key", "a://b:c@d"]) | st.text(
    max_size=4)
_LEAVES = st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=6) | _CREDENTIALISH
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
                       max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_the_walk_keeps_what_the_patterns_would_find_in_the_same_order(value):
    from pulumi_policy.proxy import unknown_checking_proxy

    from policy_pack.policies.manifest_disallow_credential_patterns import _suspects

    for props in (unknown_checking_proxy(value), value):
        kept: list = []
        _suspects(props, "", kept)
        oracle = [(p, t) for p, t in _every_string(props, "") if _REQUIRED.search(t)]
        assert kept == oracle
        assert [(p, r) for p, t in kept for r in _match(t)] == [(p, r) for p, t in _every_string(props, "")
                                                                  for r in _patterns_alone(t)]
