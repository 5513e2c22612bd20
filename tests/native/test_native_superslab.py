"""SuperSlab mode (``Config.use_superslab``) in the C pool: its snapshots carry the
SuperSlab structures so the whole catalogue (SS-01..SS-08 included) checks them, the
differential test and the catalogue catch its planted bugs, and the stress driver and
``hakmem-fuzz stress`` run it on real threads."""
import pytest

from hakmem_verify.cli.main import main
from hakmem_verify.models.native import stress
from hakmem_verify.explore import differential
from hakmem_verify.models.native.allocator import NativeAllocator
from hakmem_verify.models.native.mutants import DIFF
from hakmem_verify.contract.api import Config, InvariantViolation
from hakmem_verify.contract.ops import Alloc, Evict, Free, Quiesce, ThreadExit

from .test_native_matches_model import run_both, superslab
from hakmem_verify.check import check_impl

TINY = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=1,
              refill_batch=2, magazine_capacity=1, flush_interval=1)
SS = superslab(TINY, k=4, pool_max=1, sll=2)

#: thread 0 takes a class-0 slab (slot 1) and a class-1 slab (slot 2) of its SuperSlab and
#: evicts the class-1 one (a block of it still live); thread 1 frees a class-0 block: the
#: model routes it to the remote stack of thread 0's slab (ss_remote, free_remote)
REMOTE_FREE_NEXT_TO_AN_UNOWNED_SLAB = [
    Alloc(0, 0), Alloc(16, 0), Evict(0, 1), Free(0, 1), Alloc(0, 1), ThreadExit(0), Quiesce()]


def test_the_c_pool_accepts_superslab_mode_and_its_snapshot_carries_the_superslabs():
    nat = NativeAllocator(SS)
    a = nat.alloc(8, 0)
    b = nat.alloc(8, 0)
    nat.free(b, 0)                              # local: onto tid 0's tls_sll
    snap = nat.snapshot()
    (ss,) = snap.superslabs.values()
    slab = snap.slabs[a & ~(SS.slab_size - 1)]
    assert ss.owner == 0 and ss.nslots == 4 and ss.carved == 2 and ss.base % SS.superslab_size == 0
    assert ss.slabs[1] == (slab.base, 0) and slab.superslab == ss.base and slab.ss_owner == 0
    assert snap.threads[0].tls_sll[0] == (b,) and snap.threads[0].tls_sll_counts[0] == 1
    assert snap.threads[0].superslabs == (ss.base,) and slab.tls_sll == (b,)
    assert nat.path_counts["ss_local"] == 1 and nat.path_counts["tls_sll"] == 1
    check_impl(nat, 3)
    nat.free(a, 0)
    nat.quiesce()
    snap = nat.snapshot()
    assert not snap.superslabs and len(snap.ss_pool) == 1     # pooled, at most pool_max
    check_impl(nat, 3)


def test_the_catalogue_on_a_c_snapshot_catches_a_superslab_header_that_names_another_owner():
    """SS-07 checks the C pool's headers: one planted in memory here (the header of tid 0's
    SuperSlab rewritten to name tid 5) is reported."""
    nat = NativeAllocator(SS)
    nat.alloc(8, 0)
    check_impl(nat, 3)
    ss = nat._pool.sss[0]
    owner = nat._ffi.cast("int64_t *", nat._ffi.cast("char *", ss) + _owner_offset(nat))
    assert owner[0] == 0
    owner[0] = 5
    with pytest.raises(InvariantViolation) as found:
        check_impl(nat, 3)
    assert found.value.inv_id in ("SS-07", "SS-03"), found.value


def _owner_offset(nat) -> int:
    """Offset of hk_ss.owner, the 8-byte word after nslots (csrc/hk.h)."""
    off = nat._ffi.offsetof("hk_ss", "nslots") + 4
    assert off % 8 == 0
    return off


def test_the_differential_hunt_finds_no_difference_on_the_clean_c_pool():
    r = differential.hunt(None, budget=3, seed=1)
    assert not r.killed and r.cases > 10, r.message


def test_a_superslab_release_unmaps_only_its_own_pages():
    """SuperSlabs smaller than a page share it: returning one to the OS must not drop the
    others' memory (the pool past superslab_pool_max 0)."""
    cfg = superslab(Config(class_sizes=(8, 16, 32, 64, 128, 256, 512, 1024), slab_size=1024,
                           word_bits=8, mini_mag_capacity=2, refill_batch=2,
                           magazine_capacity=2, flush_interval=2), k=2, pool_max=0, sll=0)
    ops = [Alloc(0, 0)] * 3 + [Alloc(0, 1)] + [Free(h, 0) for h in range(4)] + [Quiesce()]
    run_both(cfg, ops, check=True)


@pytest.mark.quality
@pytest.mark.parametrize("mutant", sorted(DIFF))
def test_the_differential_test_catches_each_planted_superslab_bug(mutant):
    """ss-mask-off-by-one-slab: the free reads the owner of the unowned slab above
    (free_magazine for free_remote); ss-counter-wrong-route: ss_local for ss_remote."""
    run_both(SS, REMOTE_FREE_NEXT_TO_AN_UNOWNED_SLAB, check=True)       # the clean build
    with pytest.raises(AssertionError, match=r"op 3 Free\(handle=0, tid=1\)"):
        run_both(SS, REMOTE_FREE_NEXT_TO_AN_UNOWNED_SLAB, mutant=mutant)
    r = differential.hunt(mutant, budget=30, seed=0)                     # random cases too
    assert r.killed, f"{mutant} ({DIFF[mutant]}) survived {r.cases} random cases"


@pytest.mark.quality
def test_the_catalogue_catches_a_remote_free_counted_local_on_the_c_pool():
    """The lockstep machine on the C pool in SuperSlab mode: SS-06 (the free pipeline's
    counters against the route predicted from the state before the free)."""
    import dataclasses

    from hypothesis import strategies as st

    from hakmem_verify.explore.hunt import hunt
    from hakmem_verify.explore.configs import small_configs, tiny_configs
    configs = st.one_of(tiny_configs, small_configs).map(
        lambda c: dataclasses.replace(c, use_superslab=True, superslab_size=c.slab_size * 4,
                                      superslab_pool_max=1, tls_sll_capacity=2))
    r = hunt(budget=30, seed=0, impl="hakmem_verify.models.native.mutants:ss_counter_wrong_route",
             config_strategy=configs)
    assert r.killed and r.inv_id in ("SS-06", "SS-05"), (r.inv_id, r.message[:300])


def test_the_stress_driver_runs_superslab_mode_clean_on_four_pthreads():
    for workload, ops in (("larson", 200_000), ("prodcons", 40_000)):
        for config in (stress.SUPERSLAB, stress.SMALL_SUPERSLAB):
            r = stress.run(4, workload, ops, config=config)
            assert r.status == 0, r.message
    r = stress.run_program(4, "larson", 200_000, small=True, superslab=True)
    assert r.status == 0, r.message


def test_the_stress_command_runs_both_modes_with_the_seeds_figures_as_reference(capsys):
    assert main(["stress", "--impl", "native", "--threads", "2", "--ops", "50000"]) == 0
    out = capsys.readouterr().out
    assert "clean (default mode)" in out and "clean (SuperSlab mode)" in out
    assert out.count("M ops/s") >= 4
    assert "Phase 6-3 (no SuperSlab): 4.79 M ops/s (has OOM risk)" in " ".join(out.split())
    assert "With SuperSlab: 3.13 M ops/s" in " ".join(out.split())
    assert "larson" in out and "own machine" in out


def test_the_stress_command_runs_one_mode_when_asked(capsys):
    assert main(["stress", "--mode", "superslab", "--small", "--ops", "20000"]) == 0
    out = capsys.readouterr().out
    assert "clean (SuperSlab mode)" in out and "default mode" not in out


def test_the_threadsanitizer_build_reports_nothing_in_superslab_mode():
    try:
        stress.tsan_program()
    except stress.TsanUnavailable as e:
        pytest.skip(f"ThreadSanitizer unavailable here: {e}")
    for workload in ("larson", "prodcons"):
        for small in (False, True):
            rc, reports, err = stress.run_tsan(4, workload, 20_000, small=small, superslab=True)
            assert reports == 0 and rc == 0, err[-3000:]


@pytest.mark.quality
@pytest.mark.parametrize("mutant, check", [("spill-leaks-one", "STRESS-CONSERVATION"),
                                           ("live-not-marked", "STRESS-FREE"),
                                           ("remote-push-scribbles", "STRESS-OVERWRITE"),
                                           ("thread-exit-keeps-b", "STRESS-EMPTY")])
def test_the_stress_checks_find_planted_bugs_in_superslab_mode_too(mutant, check):
    r = stress.run_program(4, "larson", 2_000_000, mutant=mutant, superslab=True)
    assert r.status == 1 and r.message.startswith(f"[{check}]"), (mutant, r.message)
