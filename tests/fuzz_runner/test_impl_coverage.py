"""hakmem-fuzz run --coverage: line and branch coverage of the implementation's own code,
with the lines never reached; refused in one line where it cannot apply."""
from __future__ import annotations

import textwrap

from hakmem_verify.runner.coverage import _ranges, import_lines, source_of

from .helpers import hakmem_fuzz, load_report, run_args


def test_a_python_impl_gets_its_lines_and_branches_and_the_lines_never_reached(tmp_path):
    # a module whose error path the lockstep machine never takes: its lines must be listed
    mod = tmp_path / "covered_alloc.py"
    mod.write_text(textwrap.dedent('''\
        from hakmem_verify.models.ref import RefAllocator


        class Covered(RefAllocator):
            def thread_exit(self, tid):
                if tid == 10 ** 9:                       # no tid this large is ever drawn
                    raise RuntimeError("never")
                return super().thread_exit(tid)


        def make(config):
            return Covered(config)
        '''))
    proc = hakmem_fuzz(*run_args(tmp_path, "--impl", "covered_alloc:make", "--coverage",
                                 minutes="0.05"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cov = load_report(tmp_path)["impl_coverage"]
    (f,) = cov["files"]
    assert f["file"] == "covered_alloc.py" and f["never_reached"] == "7"
    assert f["statements"] == f["reached"] + 1 and f["branches"] == 2 and f["taken"] == 1
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Coverage of the implementation's own code" in md and "| covered_alloc.py |" in md
    assert "coverage of" in proc.stdout


def test_coverage_of_a_c_library_is_refused_in_one_line(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, "--impl", "malloc:system", "--coverage"),
                       cwd=tmp_path)
    assert proc.returncode == 2 and "C library" in proc.stderr
    assert not (tmp_path / "report" / "report.json").exists()


def test_what_is_measured_and_what_counts_as_run_at_import():
    import os
    import hakmem_verify.models.fast
    assert source_of("hakmem_verify.models.fast:FastAllocator") == os.path.dirname(hakmem_verify.models.fast.__file__)
    assert source_of("examples.bump_alloc:make").endswith("bump_alloc.py")
    src = textwrap.dedent('''\
        import os
        X = 1
        @staticmethod
        def f():
            return 2
        class C:
            y = 3
            def g(self):
                return 4
        ''')
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(src)
    assert import_lines(fh.name) == {1, 2, 3, 4, 6, 7, 8}
    assert _ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
