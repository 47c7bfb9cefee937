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
