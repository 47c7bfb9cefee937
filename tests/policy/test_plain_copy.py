"""policy_pack/policies/_lib/rbac.py ``plain``, the copy stack policies take of a resource's
inputs, reads past the SDK's proxies for speed: its answer (the copy, or the SDK's
UnknownValueError with the path of the first unknown in reading order) must be the one of reading
through the proxies (``_plain``), on any input."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy_pack.policies._lib import rbac
from policy_pack.policies._lib import fastpath
from policy_pack.policies._lib.fastpath import _Deferred, _LazyProps

LEAVES = (st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5)
          | st.sampled_from([UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE]))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                          max_size=4), max_leaves=25)


def _answer(read, value):
    try:
        return "copy", repr(read(value))
    except UnknownValueError as e:
        return "unknown", e.message, e.props, e.unknown_type_sentinel


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=4), VALUES, max_size=5))
def test_plain_reads_as_the_proxies_read(value):
    proxied = unknown_checking_proxy(value)
    assert _answer(rbac.plain, proxied) == _answer(rbac._plain, proxied)
    assert _answer(rbac.plain, value) == _answer(rbac._plain, value)  # plain containers: no check at all


def test_plain_reads_a_deferred_stack_resource_as_the_proxies_read():
    from google.protobuf import struct_pb2

    was_installed = fastpath.installed()
    assert fastpath.install()
    try:
        _check_deferred(struct_pb2)
    finally:
        if not was_installed:
            fastpath.uninstall()


def _check_deferred(struct_pb2):
    struct = struct_pb2.Struct()
    struct.update({"metadata": {"name": "a"}, "rules": [{"verbs": ["get", UNKNOWN_STRING_VALUE]}]})
    lazy = _LazyProps(_Deferred(struct))
    assert _answer(rbac.plain, lazy) == _answer(rbac._plain, lazy)
    assert _answer(rbac.plain, lazy)[0] == "unknown"
