"""Usage of ``hakmem-fuzz``: bad arguments exit 2 with a message, help and lists work."""
from __future__ import annotations

import pytest

from fuzz.cli import main

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
        import fuzz.mutants_cmd  # noqa: F401
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
