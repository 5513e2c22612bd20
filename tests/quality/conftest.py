"""Quality hunts shrink by at most SHRINKS successful steps: what they check is the kill,
the invariant it names and (where asserted) the reproducer, not the shortest reproducer
(the nightly runner shrinks in full).  A count, not a time, so that a loaded machine
stops at the same example as an idle one and names the same invariant; SHRINK_SECONDS
only guards against a pathological shrink."""
import pytest
from hypothesis.internal.conjecture import engine

SHRINKS = 40
SHRINK_SECONDS = 60


@pytest.fixture(autouse=True)
def _bounded_shrinking():
    saved = engine.MAX_SHRINKS, engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKS, engine.MAX_SHRINKING_SECONDS = SHRINKS, SHRINK_SECONDS
    yield
    engine.MAX_SHRINKS, engine.MAX_SHRINKING_SECONDS = saved
