"""The C pool builds here (else: the one skip line of the native tests, with the reason)."""
import pytest

from hakmem_verify.models.native import build

from .conftest import REASON


def test_the_c_pool_builds_and_loads_here():
    if REASON:
        pytest.skip(REASON)
    mod = build.load()
    assert mod.lib.hk_check_config(build_config(mod)) == mod.ffi.NULL


def build_config(mod):
    from hakmem_verify.models.native.allocator import c_config
    from hakmem_verify.contract.api import Config
    return c_config(mod.ffi, Config())
