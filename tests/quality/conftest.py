"""Quality hunts shrink by at most SHRINKS successful steps: what they check is the kill,
the invariant it names and (where asserted) the reproducer, not the shortest reproducer
(the nightly runner shrinks in full).  A count, not a time, so that a loaded machine
stops at the same example as an idle one and names the same invariant; SHRINK_SECONDS
only guards against a pathological shrink."""
import pytest

from hakmem_verify.explore.chunks import shrink_limits

SHRINKS = 40
SHRINK_SECONDS = 60


@pytest.fixture(autouse=True)
def _bounded_shrinking():
    with shrink_limits(SHRINKS, SHRINK_SECONDS):
        yield


@pytest.fixture
def c_library_shrink():
    """Hunts of a C library (tests/quality/test_malloc_tier_quality.py,
    test_c_example_bugs.py) fork a process per replay: they shrink for at most 8 s, 20
    steps (what they check is the kill and the check named, not the smallest trace)."""
    with shrink_limits(20, 8):
        yield
