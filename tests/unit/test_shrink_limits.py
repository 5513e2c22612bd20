"""``hakmem_verify.explore.chunks.shrink_limits``, the one place that bounds Hypothesis's
shrinking (the quality tests, the C library hunts, the runner's shrink budget): a bound
of zero shrinks stops at the first failing example, and the engine's limits come back."""
from hypothesis import Phase, given, seed, settings, strategies as st
from hypothesis.internal.conjecture import engine

from hakmem_verify.explore.chunks import shrink_limits


def _last_failure(**limits) -> list:
    seen = []

    @seed(1)
    @settings(database=None, max_examples=200, phases=[Phase.generate, Phase.shrink])
    @given(st.lists(st.integers(0, 1000), min_size=1))
    def over_ten(xs):
        if sum(xs) > 10:
            seen.append(xs)
            raise AssertionError(xs)
    try:
        with shrink_limits(**limits):
            over_ten()
    except AssertionError:
        pass
    return seen[-1]


def test_no_shrinks_leaves_the_failing_example_as_found_and_the_limits_are_restored():
    before = engine.MAX_SHRINKS, engine.MAX_SHRINKING_SECONDS
    assert _last_failure() == [11]                       # Hypothesis's own limits: minimal
    unshrunk = _last_failure(shrinks=0)
    assert sum(unshrunk) > 11, unshrunk
    assert (engine.MAX_SHRINKS, engine.MAX_SHRINKING_SECONDS) == before
