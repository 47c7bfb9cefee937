"""The config reference is generated from the models; a stale copy fails the build."""
from __future__ import annotations

from hardened import configdoc


def test_config_reference_is_up_to_date():
    assert configdoc.main(["--check"]) == 0, "run `python -m hardened.configdoc` and commit docs/config.md"


def test_config_reference_documents_every_top_level_key():
    from components.config import config_keys

    text = configdoc.render()
    for key in config_keys():
        assert f"| `{key}` |" in text, key
