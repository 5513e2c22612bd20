"""Quality hunts shrink for at most SHRINK_SECONDS: what they check is the kill, the
invariant it names and (where asserted) the reproducer, not the shortest reproducer
(the nightly runner shrinks in full)."""
import pytest
from hypothesis.internal.conjecture import engine

SHRINK_SECONDS = 3


@pytest.fixture(autouse=True)
def _bounded_shrinking():
    saved, engine.MAX_SHRINKING_SECONDS = engine.MAX_SHRINKING_SECONDS, SHRINK_SECONDS
    yield
    engine.MAX_SHRINKING_SECONDS = saved
