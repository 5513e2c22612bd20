"""Usage of ``hakmem-fuzz``: bad arguments exit 2 with a message, help and lists work."""
from __future__ import annotations

import pytest

from hakmem_verify.cli.main import main

from .helpers import hakmem_fuzz


@pytest.mark.parametrize("args, says", [
    (["run", "--minutes", "0"], "--minutes must be > 0"),
    (["run", "--minutes", "-1"], "--minutes must be > 0"),
    (["run", "--minutes", "soon"], "--minutes must be a number"),
    (["run", "--workers", "0"], "--workers must be >= 1"),
    (["run", "--workers", "two"], "--workers must be an integer"),
    (["run", "--seed", "-5"], "--seed must be >= 0"),
    (["run", "--mutant", "no-such-bug"], "unknown --mutant 'no-such-bug'"),
    (["run", "--machine", "huge"], "unknown --machine 'huge'"),
    (["run", "--machine", "tiny", "--machine", "nope"], "unknown --machine 'nope'"),
    (["run", "--no-such-flag"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
    (["promote"], "required"),
])
def test_bad_arguments_exit_2_with_a_message(args, says, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "usage:" in err


def test_no_arguments_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "run" in capsys.readouterr().err


def test_run_help_names_every_flag(capsys):
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--minutes", "--workers", "--seed", "--db", "--report", "--machine",
                 "--mutant", "--promote", "--list"):
        assert flag in out


def test_run_list_names_machine_families_and_mutants(capsys):
    assert main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("any", "tiny", "small", "seed", "active-a-equals-b", "stats-flush-off-by-one"):
        assert name in out


def test_mutants_subcommand_is_dispatched(capsys):
    try:
        import hakmem_verify.cli.mutants  # noqa: F401  (can it be imported?)
    except ImportError:
        assert main(["mutants", "--list"]) == 2
        assert "mutants_cmd" in capsys.readouterr().err
    else:
        assert main(["mutants", "--list"]) == 0
        assert "active-a-equals-b" in capsys.readouterr().out


def test_console_process_exits_2_on_a_bad_argument(tmp_path):
    proc = hakmem_fuzz("run", "--workers", "0", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--workers must be >= 1" in proc.stderr
    assert not (tmp_path / "fuzz-report").exists()


def test_top_level_help_describes_the_tool_and_its_commands(capsys):
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "lockstep" in out and "reproducers" in out
    for command in ("run", "promote", "merge-reports", "contracts", "mutants"):
        assert command in out


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    import subprocess
    import sys
    for args in (["run", "--list"], ["mutants", "--list"]):
        cmd = " ".join(["'" + sys.executable + "'", "-c",
                        "'import sys; from hakmem_verify.cli.main import main; sys.exit(main())'", *args])
        proc = subprocess.run(f"{cmd} | head -1", shell=True, capture_output=True, text=True,
                              cwd=tmp_path, timeout=60)
        assert proc.stdout.count("\n") == 1, proc.stdout
        assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_mutants_list_has_one_described_line_per_mutant(capsys):
    from hakmem_verify import planted as mutants
    assert main(["mutants", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(mutants.names())
    hang = next(line for line in lines if line.startswith("drain-walk-loops-forever "))
    assert " hang " in hang and "HANG" in hang and "drain walk" in hang
    assert all(len(line.split()) > 4 for line in lines)


def test_mutants_list_json_gives_name_kind_description_and_expected_ids(capsys):
    import json
    from hakmem_verify import planted as mutants
    assert main(["mutants", "--list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == mutants.names()
    assert {r["kind"] for r in rows} == {"planted", "seed-sample", "hang", "equivalent",
                                        "concurrency", "native", "native-stress",
                                        "native-tsan"}
    for r in rows:
        assert set(r) == {"name", "kind", "description", "expect"}
        assert len(r["description"]) > 40
        assert r["expect"] or mutants.get(r["name"]).equivalent


@pytest.mark.crosshair
def test_the_contracts_command_counts_confirmed_and_failed_conditions(capsys):
    import argparse
    from hakmem_verify.cli import contracts as contracts_cmd
    base = dict(per_condition_timeout=3.0, per_path_timeout=2.0,
                max_uninteresting_iterations=200)
    assert contracts_cmd.main(argparse.Namespace(target="hakmem_verify.contracts.size_to_class",
                                                 **base)) == 0
    out = capsys.readouterr().out
    assert "3 conditions checked" in out and "3 confirmed over all paths" in out
    assert contracts_cmd.main(argparse.Namespace(
        target="tests.contracts.planted.size_to_class_off_by_one", **base)) == 1
    out = capsys.readouterr().out
    assert "2 failed" in out and "FAILED" in out and "size_to_class_off_by_one(" in out
