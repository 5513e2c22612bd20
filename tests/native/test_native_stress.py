"""Real threads in the C pool: the stress driver runs clean, names the check a planted bug
breaks, and the ThreadSanitizer build reports nothing on the clean pool and the seed's
non-atomic global add as a data race."""
import re

import pytest

from hakmem_verify.cli.main import main
from hakmem_verify.models.native import stress
from hakmem_verify.models.native.mutants import STRESS


def test_larson_and_producer_consumer_run_clean_on_four_pthreads():
    for workload, ops in (("larson", 200_000), ("prodcons", 40_000)):
        for config in (stress.Config(), stress.SMALL):
            r = stress.run(4, workload, ops, config=config)
            assert r.status == 0, r.message
            assert r.ops >= ops and r.seconds > 0


@pytest.mark.quality
@pytest.mark.parametrize("mutant", sorted(STRESS))
def test_each_stress_check_names_the_planted_bug_that_breaks_it(mutant):
    """free-pushes-twice: a block handed out twice, caught by its owner tag when it happens;
    remote-push-scribbles: a live block's last word changed; spill-leaks-one: a lost block;
    flush-drops-batches: reported statistics 6% low; the seed's flush sample: reported above
    exact; thread-exit-keeps-b: a slab never released; exact-misses-remote: exact statistics
    off; live-not-marked: a valid free refused; slab-limit-8: out of memory."""
    run = stress.run if mutant == "seed-stats_flush_if_needed" else stress.run_program
    r = run(4, "larson", 2_000_000, mutant=mutant)      # the cffi build, or the program
    assert r.status == 1 and r.message.startswith(f"[{STRESS[mutant]}]"), (mutant, r.message)


def test_every_check_of_the_stress_driver_has_a_planted_bug():
    source = open(stress.__file__.replace("stress.py", "csrc/hk_stress.c")).read()
    checks = set(re.findall(r'finding\(&?sh, "\[(STRESS-[A-Z]+(?:1%%)?)\]', source))
    assert {c.replace("%%", "%") for c in checks} == set(STRESS.values())


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
        for small in (False, True):             # small: adoption, eviction, release, drains
            rc, reports, err = stress.run_tsan(4, workload, 40_000, small=small)
            assert (rc, reports) == (0, 0), err[-3000:]


@pytest.mark.quality
def test_the_threadsanitizer_build_reports_the_seeds_non_atomic_global_add():
    _tsan_or_skip("seed-stats-global-add")
    rc, reports, err = stress.run_tsan(4, "larson", 40_000, mutant="seed-stats-global-add")
    assert reports >= 1 and "hk_atomic_add" in err, err[-3000:]
