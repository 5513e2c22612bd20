"""Planted bugs of a foreign allocator (examples/bump_bugs.py, a bump allocator unlike
hakmem_verify.models.fast) are found black-box, each by the invariant it breaks, with a reproducer
(the shrunk trace fails again when replayed alone).  Time to find each is printed (-s)."""
import pytest

from examples import bump_bugs
from hakmem_verify.explore.impl import load_impl

from hakmem_verify.check.registry import REGISTRY

from .foreign import hunt_foreign, replay_foreign


def hunt_and_replay(name):
    expect, bug = bump_bugs.PLANTED[name]
    impl = load_impl(f"examples.bump_bugs:{name}")
    assert impl.tier == "black-box"
    found = hunt_foreign(impl, budget=60)
    assert found is not None, f"{name} ({bug}) survived 60 s of black-box hunting"
    print(f"\n{name}: {found.inv_id} after {found.time_to_fail:.2f} s ({found.examples} "
          f"examples; {found.elapsed:.2f} s with shrinking), reproducer of "
          f"{len(found.trace)} ops")
    assert found.inv_id in expect, f"{name} ({bug}) was caught by {found.inv_id}, expected " \
                                   f"{expect}: {found.message[:300]}"
    assert found.message.startswith(f"[{found.inv_id}]")
    with pytest.raises(Exception) as again:
        replay_foreign(impl, found.config, found.trace)
    assert getattr(again.value, "inv_id", None) == found.inv_id, again.value
    return found


@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(bump_bugs.PLANTED))
def test_a_planted_bug_of_a_foreign_allocator_is_found_black_box_by_its_invariant(name):
    hunt_and_replay(name)


def test_every_black_box_check_names_a_planted_foreign_bug_that_it_is_expected_to_catch():
    declared = {i: inv.planted for i, inv in REGISTRY.items() if inv.topic == "blackbox"}
    assert set(declared) == {"LIVE-03", "OOM-02"}
    for inv_id, planted in declared.items():
        module, _, name = planted.partition(":")
        assert module == "examples.bump_bugs" and inv_id in bump_bugs.PLANTED[name][0], planted


def test_the_correct_bump_allocator_passes_a_short_hunt_with_the_black_box_checks():
    assert hunt_foreign(load_impl("examples.bump_alloc:make"), budget=3) is None
