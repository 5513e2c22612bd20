"""Real threads in the C pool: the stress driver runs clean, names the check a planted bug
breaks, and the ThreadSanitizer build reports nothing on the clean pool and the seed's
non-atomic global add as a data race."""
import pytest

from fuzz.cli import main
from hakmem_native import stress


def test_larson_and_producer_consumer_run_clean_on_four_pthreads():
    for workload, ops in (("larson", 200_000), ("prodcons", 40_000)):
        r = stress.run(4, workload, ops)
        assert r.status == 0, r.message
        assert r.ops >= ops and r.seconds > 0


@pytest.mark.quality
def test_a_block_handed_out_twice_is_caught_by_its_owner_tag_when_it_happens():
    r = stress.run(4, "larson", 200_000, mutant="free-pushes-twice")
    assert r.status == 1 and r.message.startswith("[STRESS-TAG] double allocation"), r.message


@pytest.mark.quality
def test_the_seeds_stats_flush_sample_breaks_the_exact_statistics_under_threads():
    r = stress.run(4, "larson", 200_000, mutant="seed-stats_flush_if_needed")
    assert r.status == 1 and r.message.startswith("[STRESS-"), r.message
    assert "STAT" in r.message or "EXACT" in r.message


def test_the_stress_command_prints_ops_per_second_and_exits_0_when_clean(capsys):
    assert main(["stress", "--impl", "native", "--threads", "2", "--ops", "50000"]) == 0
    assert "M ops/s" in capsys.readouterr().out


def test_the_stress_command_refuses_an_implementation_that_is_not_the_c_pool(capsys):
    assert main(["stress", "--impl", "fast", "--ops", "10"]) == 2
    assert "stress runs the C pool only" in capsys.readouterr().err


def _tsan_or_skip(mutant=None):
    try:
        return stress.tsan_program(mutant)
    except stress.TsanUnavailable as e:
        pytest.skip(f"ThreadSanitizer unavailable here: {e}")


def test_the_threadsanitizer_build_reports_nothing_on_the_clean_pool():
    _tsan_or_skip()
    for workload in ("larson", "prodcons"):
        rc, reports, err = stress.run_tsan(4, workload, 40_000)
        assert (rc, reports) == (0, 0), err[-3000:]


@pytest.mark.quality
def test_the_threadsanitizer_build_reports_the_seeds_non_atomic_global_add():
    _tsan_or_skip("seed-stats-global-add")
    rc, reports, err = stress.run_tsan(4, "larson", 40_000, mutant="seed-stats-global-add")
    assert reports >= 1 and "hk_atomic_add" in err, err[-3000:]
