"""Without a C compiler (or without cffi) nothing breaks: the native tests skip with one
line saying why, and ``--impl native`` says the same and exits 2."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "PYTEST_ADDOPTS")}
    env.update(PATH=str(tmp_path), HAKMEM_NATIVE_CACHE=str(tmp_path / "empty-cache"))
    return env


def test_without_a_compiler_impl_native_says_why_in_one_line_and_exits_2(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hakmem_verify.cli.main", "run", "--impl", "native",
                          "--minutes", "0.01", "--report", str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=ROOT, env=_env(tmp_path))
    assert run.returncode == 2, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert lines == ["hakmem-fuzz: error: native pool unavailable: no C compiler found (cc, "
                     "gcc or $CC) and no build of it cached; install gcc"], run.stderr


def test_without_a_compiler_the_native_tests_skip_with_the_reason(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "tests/native"], capture_output=True,
                         text=True, cwd=ROOT, env=_env(tmp_path))
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 skipped" in run.stdout and "passed" not in run.stdout, run.stdout[-2000:]
    reasons = [ln for ln in run.stdout.splitlines() if ln.startswith("SKIPPED")]
    assert len(reasons) == 1 and "no C compiler found" in reasons[0], run.stdout[-2000:]


def test_without_cffi_the_reason_names_the_native_extra(tmp_path):
    code = ("import sys; sys.modules['cffi'] = None\n"
            "from hakmem_verify.models.native import unavailable_reason; print(unavailable_reason())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=_env(tmp_path))
    assert "cffi is not installed" in run.stdout and ".[native]" in run.stdout, run.stdout


def test_without_a_compiler_the_mutants_command_reports_the_c_pool_mutants_unavailable(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hakmem_verify.cli.main", "mutants", "--workers", "1",
                          "--budget", "5", "native:seed-stats_flush_if_needed",
                          "native-stress:slab-limit-8"], capture_output=True, text=True,
                         cwd=ROOT, env=_env(tmp_path))
    assert run.returncode == 0, run.stderr          # not a survivor: it could not run
    rows = [ln for ln in run.stdout.splitlines() if ln.startswith("native")]
    assert len(rows) == 2 and all("| unavailable |" in r for r in rows), run.stdout
    assert "0/0 catalogued mutants killed" in run.stdout
    assert "not run here (2, neither killed nor survived): native pool unavailable: no C " \
           "compiler" in run.stdout, run.stdout
