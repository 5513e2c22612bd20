"""The seed's code samples compiled into the C pool (-DHAKMEM_MUTANT) are found by the same
lockstep hunt that finds them in the model, and the written reproducer fails again when
it is replayed (with IMPL naming the mutant's factory)."""
import importlib.util

import pytest

from hakmem_verify.explore.hunt import hunt
from hakmem_verify.runner.replay import write_reproducer
from hakmem_verify.models.native.mutants import SEQUENTIAL
from hakmem_verify.contract.api import InvariantViolation


@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(SEQUENTIAL))
def test_a_seed_sample_compiled_into_the_c_pool_is_found_with_a_reproducer_that_replays(
        name, tmp_path):
    expect, what = SEQUENTIAL[name]
    spec = f"hakmem_verify.models.native.mutants:{name.replace('-', '_')}"
    found = hunt(budget=30, seed=0, impl=spec)
    assert found.killed, f"{name} ({what}) survived 30 s of hunting"
    assert found.inv_id in expect, f"{name} caught by {found.inv_id}: {found.message[:300]}"
    print(f"\n{name}: {found.inv_id} after {found.time_to_fail:.2f} s, "
          f"reproducer of {len(found.trace)} ops")
    path = write_reproducer(str(tmp_path), found.config, found.trace, name=name,
                            inv_id=found.inv_id, impl=spec)
    spec_file = importlib.util.spec_from_file_location("native_repro", path)
    module = importlib.util.module_from_spec(spec_file)
    spec_file.loader.exec_module(module)           # the written file, run as pytest would
    assert module.IMPL == spec
    tests = [f for n, f in vars(module).items() if n.startswith("test_")]
    with pytest.raises(InvariantViolation) as again:
        tests[0]()
    assert again.value.inv_id == found.inv_id


def test_every_compile_time_mutant_is_in_the_mutants_command_catalogue():
    from hakmem_verify import planted as catalogue
    from hakmem_verify.planted import native
    from hakmem_verify.models.native.build import MUTANTS
    listed = {catalogue.get(n).c_name for n in native.names()}
    assert listed == set(MUTANTS), f"not in hakmem-fuzz mutants: {set(MUTANTS) - listed}"
    for n in native.names():
        m = catalogue.get(n)
        assert n in catalogue.names() and m.kind in native.KINDS and m.expect
        assert "-DHAKMEM_MUTANT" in m.doc and len(m.doc) > 80, m.doc


def _native_mutant_names():
    from hakmem_verify.planted import native
    return native.names()


@pytest.mark.quality
@pytest.mark.parametrize("name", _native_mutant_names())
def test_the_mutants_command_kills_each_compile_time_mutant_by_a_check_it_expects(name):
    """What ``hakmem-fuzz mutants`` runs for a C pool mutant: the lockstep hunt, the stress
    driver on 4 pthreads, or the ThreadSanitizer build; the finding must be one its entry
    expects (``native-stress:remote-push-not-atomic`` is shown caught here only)."""
    from hakmem_verify.planted import native
    from hakmem_verify.cli.mutants import verdict
    m = native.get(name)
    row = native.hunt(m, budget=30, seed=0)
    if m.kind == "native-tsan" and row.get("unavailable"):
        pytest.skip(row["unavailable"])             # no ThreadSanitizer runtime here
    assert verdict(row) == "killed", row
    assert row["inv_id"] in m.expect and row["message"], row
