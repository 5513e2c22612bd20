"""The native tests need the C pool built (cffi and a C compiler): without them every
test here is skipped with one line saying why."""
import pytest

from hakmem_native import unavailable_reason

REASON = unavailable_reason()


def pytest_collection_modifyitems(config, items):
    if not REASON:
        return
    skip = pytest.mark.skip(reason=REASON)
    for item in items:
        if "tests/native/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)
