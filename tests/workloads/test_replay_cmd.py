"""hakmem-fuzz replay: exit 0 clean, 1 finding with a shrunk reproducer, 2 usage / bad trace."""
from __future__ import annotations

import importlib.util
import os

import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.cli.main import main
from hakmem_verify.workloads.trace_shrink import drop, shortest_failing_prefix, shrink
from hakmem_verify.contract.ops import Alloc, Free, Read, Write

TRACES = os.path.join(os.path.dirname(__file__), "..", "..", "hakmem_verify", "workloads", "traces")
LS = os.path.join(TRACES, "ls-l.trace")


def test_larson_on_four_threads_replays_clean(capsys):
    assert main(["replay", "--workload", "larson", "--threads", "4"]) == 0
    out = capsys.readouterr().out
    assert "replay: clean: 3,212 ops" in out and "free_remote" in out


def test_a_recorded_trace_spread_over_threads_replays_clean_with_a_progress_line(capsys):
    assert main(["replay", LS, "--threads", "3", "--remote", "0.5",
                 "--progress-every", "1e-9"]) == 0
    captured = capsys.readouterr()
    assert "skipped alloc_out_of_range 11" in captured.out
    assert "replay: 256/600 ops (42%)" in captured.err


def test_a_corrupted_line_exits_2_naming_the_line_or_is_skipped_with_skip_bad(tmp_path, capsys):
    text = open(LS).read().splitlines()
    text[99] = "--5637-- realloc(0x4B09090,20"
    bad = tmp_path / "bad.trace"
    bad.write_text("\n".join(text) + "\n")
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:100: truncated or malformed realloc(...) call" in err and "--skip-bad" in err
    assert main(["replay", str(bad), "--skip-bad"]) == 0
    assert f"skipped bad line {bad}:100" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["replay"], "give a TRACE file or --workload NAME"),
    (["replay", LS, "--workload", "larson"], "give a TRACE file or --workload NAME"),
    (["replay", "/nonexistent.trace"], "No such file"),
    (["replay", "--workload", "larson", "--config", "nope=1"], "knob one of slab_size"),
    (["replay", "--workload", "larson", "--config", "refill_batch=0"], "refill_batch must be"),
    (["replay", "--workload", "larson", "--config", "use_superslab=yes"],
     "use_superslab takes 0, 1, true or false"),
    (["replay", "--workload", "larson", "--config", "refill_batch=x"], "takes an integer"),
    (["replay", "--workload", "larson", "--remote", "2"], "share of frees in [0, 1]"),
    (["replay", "--workload", "larson", "--scale", "0"], "scale must be an int >= 1"),
    (["replay", "--workload", "larson", "--mutant", "nope"], "unknown --mutant 'nope'"),
])
def test_usage_errors_exit_2_and_say_what_to_do(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "--help" in err


def test_superslab_mode_is_a_config_knob_of_replay(capsys):
    assert main(["replay", "--workload", "larson", "--config", "use_superslab=1"]) == 0
    assert "use_superslab=True" in capsys.readouterr().out


def test_a_finding_exits_1_with_a_reproducer_cut_to_a_prefix_then_shrunk(tmp_path, capsys):
    argv = ["replay", "--workload", "larson", "--threads", "2", "--config",
            "magazine_capacity=16", "--mutant", "magazine-capacity-off-by-one",
            "--shrink-seconds", "30", "--reproducers", str(tmp_path)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "FINDING at op 588 of 1,606" in out and "[MAG-01]" in out
    cut = int(out.split("cut to ")[1].split(" ops")[0].replace(",", ""))
    shrunk = int(out.split("shrunk to ")[1].split(" ops")[0])
    assert shrunk < cut <= 589
    (path,) = tmp_path.glob("test_repro_*.py")
    spec = importlib.util.spec_from_file_location("repro", path)
    repro = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(repro)
    assert len(repro.OPS) == shrunk
    test = next(getattr(repro, n) for n in dir(repro) if n.startswith("test_"))
    with pytest.raises(AssertionError, match="MAG-01"):
        test()                                   # fails under the planted bug
    repro.MUTANT = None
    test()                                       # and passes without it


def test_drop_renumbers_later_handles_and_drops_ops_on_removed_blocks():
    ops = [Alloc(8), Alloc(16), Write(0, 0, b"x"), Alloc(24), Read(1, 0, 1), Free(0), Free(2)]
    assert drop(ops, {1}) == [Alloc(8), Write(0, 0, b"x"), Alloc(24), Free(0), Free(1)]
    assert drop(ops, {0, 5}) == [Alloc(16), Alloc(24), Read(0, 0, 1), Free(1)]


def test_prefix_search_and_shrink_keep_only_the_ops_the_failure_needs():
    ops = ([Alloc(8)] * 7 + [Alloc(24)] + [Alloc(8)] * 40 + [Free(7)] + [Alloc(40)]
           + [Free(3)] * 20 + [Free(48)] + [Alloc(8)] * 30)

    def fails(candidate):        # "fails" once the 24-byte and the 40-byte blocks are freed
        sizes = [op.size for op in candidate if type(op) is Alloc]
        return {24, 40} <= {sizes[op.handle] for op in candidate if type(op) is Free}
    assert shortest_failing_prefix(ops, fails, len(ops)) == 71
    small = shrink(ops[:71], fails, seconds=10)
    assert small == [Alloc(24), Free(0), Alloc(40), Free(1)]


def test_the_planted_bug_is_restored_after_a_finding():
    from hakmem_verify.models.fast import FastAllocator
    before = dict(vars(FastAllocator))
    with mutants.apply("magazine-capacity-off-by-one"):
        pass
    assert dict(vars(FastAllocator)) == before
