"""hakmem-fuzz mutate: hunt a deterministic sample of source mutants, score the harness.

    hakmem-fuzz mutate --files 'hakmem_verify/models/fast/*.py' [--n 100] [--budget 30] [--seed 0]
                       [--workers 2] [--out mutate-report] [--root .] [--write-md PATH]
                       [--oracle MODULE:CLASS] [--impl MODULE:FACTORY] [--min-score 0.9]
                       [--equivalent PATH|none] [--tests PATH ...]

Each mutant (``hakmem_verify.mutate.operators``) is written into its own scratch copy of the tree's
Python packages (the checkout is never written) and hunted there by the lockstep
machine (``hakmem_verify.explore.hunt``) in a separate process for two thirds of ``--budget`` seconds,
then, if the implementation runs as atomic steps (the ``*_steps`` hooks), by the
concurrent machine (``hakmem_verify.oracle.concurrent``) for the rest; ``--workers`` at a time.  A
survivor of the hunt then runs the pytest files of ``--tests`` (default: ``tests`` in
``[tool.hakmem-fuzz.mutate]`` of the root's pyproject.toml) in its scratch copy, and a
failing test kills it (``test:<node id>``).  A mutant is *killed* when the machine fails (the invariant ID and the
time to the first failure are kept), *survives* when the budget ends first, and a
run that exceeds four budgets plus a minute counts as killed by ``timeout`` (a hang).
Mutants whose files fail to import, or whose allocator cannot be constructed, are
reported apart and not scored.

Output: ``report.json`` and ``report.md`` in ``--out``: the score (killed / scored),
each mutant's kill time and check, and the survivors with one-line diffs.
Functions that no code reachable from the API even names are not sampled, and
survivors on the committed list of equivalent mutants (``--equivalent``, default
``hakmem_verify/mutate/equivalent.txt``) are not scored (``hakmem_verify.mutate.reach``); the report
lists both.  Exit status: 0 done; 1 below ``--min-score``; 2 usage error (no file
matched, a file that does not parse, bad numbers, a malformed list, an unwritable
``--out`` or ``--write-md``); 3 interrupted (Ctrl-C or SIGTERM: the workers are killed
and their scratch copies removed).
"""
from __future__ import annotations

import glob
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .operators import Mutant, sample
from .reach import (enclosing, functions, in_unreachable, load_equivalent,
                               unreachable)
from .report import summarize, tag_equivalent
from hakmem_verify.runner.session_process import communicate_in_session

TAG = "MUTATE-RESULT "
USAGE, LOW_SCORE, INTERRUPTED = 2, 1, 3
LIVE = set()                    # running worker processes
#: of each mutant's budget, the share the lockstep machine hunts; the concurrent machine
#: hunts the rest (when the implementation offers the step generators)
SEQUENTIAL_SHARE = 2 / 3
STEP_HOOKS = ("alloc_steps", "free_steps", "drain_steps", "evict_steps", "thread_exit_steps",
              "flush_steps")
STOP = threading.Event()        # set on Ctrl-C / SIGTERM
_SKIP = {"tests", "build", "dist", "docs", "bench", "node_modules"}


# ============================================================================
# One mutant, in its own scratch tree and process
# ============================================================================


def packages(root: str) -> list:
    """The top-level Python packages of a tree (directories with an ``__init__.py``)."""
    return sorted(d for d in os.listdir(root) if not d.startswith(".") and d not in _SKIP
                  and os.path.isfile(os.path.join(root, d, "__init__.py")))


def module_of(path: str) -> str:
    mod = os.path.splitext(path)[0].replace(os.sep, ".")
    return mod[:-len(".__init__")] if mod.endswith(".__init__") else mod


def run_one(m: Mutant, source: bytes, root: str, budget: float, seed: int,
            oracle: str = "", impl: str = "", tests=()) -> dict:
    """Hunt one mutant in a scratch copy of ``root``'s packages; its result as a dict.
    A survivor then runs the pytest files ``tests`` (paths under ``root``) in the same
    copy: a failing test kills it (``inv_id`` ``test:<node id>``)."""
    scratch = tempfile.mkdtemp(prefix="hakmem-mutant-")
    try:
        top = m.path.split(os.sep)[0]
        for pkg in sorted(set(packages(root)) | ({top} if top != m.path else set())):
            shutil.copytree(os.path.join(root, pkg), os.path.join(scratch, pkg),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        target = os.path.join(scratch, m.path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(m.apply(source))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [scratch, root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
            PYTHONDONTWRITEBYTECODE="1")
        cmd = [sys.executable, "-B", "-m", "hakmem_verify.mutate.run", "--worker", module_of(m.path),
               str(budget), str(seed), scratch, oracle, impl]
        t0 = time.monotonic()
        if STOP.is_set():
            return dict(status="interrupted", message="not run: the campaign was interrupted")
        p, out, err = _run(cmd, scratch, env, 4 * budget + 60)
        if p is None:
            return dict(status="killed", inv_id="timeout", kill_time=time.monotonic() - t0,
                        message=f"no result after {4 * budget + 60:.0f} s (a hang)")
        if STOP.is_set():
            return dict(status="interrupted", message="stopped: the campaign was interrupted")
        for line in out.splitlines():
            if line.startswith(TAG):
                res = json.loads(line[len(TAG):])
                if res["status"] == "survived" and tests:
                    res = _run_tests(scratch, root, env, tests, budget, t0) or res
                return res
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        return dict(status="start", message=f"the worker exited {p.returncode}: {tail}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_tests(scratch: str, root: str, env: dict, tests, budget: float, t0: float):
    """Run the pytest files ``tests`` against the mutant's scratch copy; the kill as a
    result dict, or None if every test passed."""
    for top in sorted({t.split(os.sep)[0] for t in tests} - set(os.listdir(scratch))):
        src = os.path.join(root, top)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(scratch, top),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "conftest.py"):
        if os.path.exists(os.path.join(root, name)):
            shutil.copy(os.path.join(root, name), scratch)
    cmd = [sys.executable, "-B", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
           "-n", "0", *tests]
    p, out, _ = _run(cmd, scratch, env, 4 * budget + 60, merge=True)
    if p is None:
        return dict(status="killed", inv_id="test:timeout", kill_time=time.monotonic() - t0,
                    message=f"the tests {tests} did not finish (a hang)")
    if p.returncode in (0, 5) or STOP.is_set():     # passed, or no test collected
        return None
    failed = [ln.split()[1] for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    return dict(status="killed", inv_id=f"test:{failed[0] if failed else 'exit %d' % p.returncode}",
                kill_time=round(time.monotonic() - t0, 2), message=out.strip()[-300:],
                machine="tests")


def _run(cmd, cwd: str, env: dict, timeout: float, merge: bool = False):
    """(process, stdout, stderr) of a worker run in its own session, killable by
    :func:`interrupt`; (None, "", "") when it ran past ``timeout`` (killed)."""
    p, out, err = communicate_in_session(
        cmd, timeout, LIVE, _kill, cwd=cwd, env=env,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE)
    return p, out, err or ""


def _kill(p) -> tuple:
    """Kill a worker and everything it started (its own session); ("", ""): no output
    is kept from it."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    p.wait()
    return "", ""


def interrupt() -> None:
    """Stop the campaign: no new mutant starts, every running worker is killed (each
    one's scratch copy is removed by its own ``run_one``)."""
    STOP.set()
    for p in list(LIVE):
        _kill(p)


def worker(module: str, budget: float, seed: int, scratch: str, oracle: str = "",
           impl: str = "") -> int:
    """In the scratch process: import, construct, hunt (with ``oracle``, ``module:Class``,
    as the machines' oracle, and ``impl``, ``module:factory``, as the implementation, if
    given); print one tagged JSON line."""
    def out(**kw):
        print(TAG + json.dumps(kw), flush=True)
        return 0
    try:
        mod = importlib.import_module(module)
        from hakmem_verify.explore.hunt import hunt
        from hakmem_verify.explore.impl import load_impl
    except BaseException as e:  # a mutant may break anything at import
        return out(status="import", message=f"{type(e).__name__}: {e}")
    where = os.path.realpath(getattr(mod, "__file__", "") or "")
    if not where.startswith(os.path.realpath(scratch)):
        return out(status="start", message=f"{module} was imported from {where}, not the "
                                           f"scratch copy: the mutant was not applied")
    try:
        factory = load_impl(impl or None)   # imports the factory, builds it on probe Configs
    except BaseException as e:
        return out(status="start", message=f"the implementation {impl or 'hakmem_verify.models.fast'} "
                                           f"cannot start: {type(e).__name__}: {e}")
    oracle_class = None
    if oracle:
        mod_name, _, cls = oracle.partition(":")
        oracle_class = getattr(importlib.import_module(mod_name), cls)
    steps = concurrent_capable(factory)
    seq_budget = budget * SEQUENTIAL_SHARE if steps else budget
    from hakmem_verify.runner.worker import config_strategy   # what a clean run draws
    r = hunt(budget=seq_budget, seed=seed, impl=impl or None, oracle=oracle_class,
             config_strategy=config_strategy(["any"], impl=impl or None))
    if r.killed:
        return out(status="killed", inv_id=r.inv_id, kill_time=round(r.time_to_fail, 2),
                   examples=r.examples, message=r.message[:300], machine="lockstep")
    if steps:
        from hakmem_verify.models.ref import RefAllocator
        from hakmem_verify.explore.configs import concurrent_configs, mixed_concurrent_configs
        from hakmem_verify.explore.concurrent_hunt import hunt_concurrent
        killed, inv_id, msg, _, examples, _, first = hunt_concurrent(
            RefAllocator, factory, budget=budget - seq_budget, seed=seed, shrink_seconds=1,
            config_strategy=mixed_concurrent_configs if not impl else concurrent_configs)
        if killed:
            return out(status="killed", inv_id=inv_id, kill_time=round(seq_budget + first, 2),
                       examples=r.examples + examples, message=msg[:300], machine="concurrent")
    return out(status="survived", examples=r.examples, steps=r.steps)


def concurrent_capable(factory) -> bool:
    """Whether the implementation runs as atomic steps (the concurrent machine's
    ``Hooks`` step generators) on a small Config."""
    from hakmem_verify.contract.api import Config
    try:
        a = factory(Config(class_sizes=(8, 16), slab_size=64, word_bits=4))
    except Exception:  # an implementation that cannot honour it
        return False
    return all(callable(getattr(a, n, None)) for n in STEP_HOOKS)


# ============================================================================
# The campaign and its report
# ============================================================================


def configured_tests(root: str) -> list:
    """The ``tests`` of ``[tool.hakmem-fuzz.mutate]`` in root's pyproject.toml, or []."""
    path = os.path.join(root, "pyproject.toml")
    if not os.path.exists(path):
        return []
    try:
        import tomllib
    except ImportError:             # Python 3.10: no TOML reader in the standard library
        return []
    with open(path, "rb") as f:
        conf = tomllib.load(f)
    return list(conf.get("tool", {}).get("hakmem-fuzz", {}).get("mutate", {}).get("tests", []))


def implementation_dir(path: str) -> str:
    """The directory of the implementation a file belongs to: its top-level directory, or
    for a model of this harness ``hakmem_verify/models/NAME`` (the harness around it, its
    planted bugs included, is not a caller of the implementation's code)."""
    parts = path.split(os.sep)
    if parts[:2] == ["hakmem_verify", "models"] and len(parts) > 3:
        return os.sep.join(parts[:3])
    return parts[0]


def package_sources(root: str, files: list, sources: dict) -> dict:
    """Every Python file of the implementations the mutated files live in
    (:func:`implementation_dir`; the callers of a mutated function may live in a file that
    is not mutated)."""
    out = dict(sources)
    for top in sorted({implementation_dir(f) for f in files if os.sep in f}):
        for path in glob.glob(os.path.join(root, top, "**", "*.py"), recursive=True):
            rel = os.path.relpath(path, root)
            if rel not in out:
                with open(path, "rb") as f:
                    out[rel] = f.read()
    return out


def run(files: list, n: int, budget: float, seed: int, workers: int, root: str,
        oracle: str = "", impl: str = "", equivalent: str = "", tests=(),
        log=sys.stderr) -> dict:
    sources = {}
    for path in files:
        with open(os.path.join(root, path), "rb") as f:
            sources[path] = f.read()
    dead = [f for f in unreachable(package_sources(root, files, sources)) if f.path in sources]
    funcs = functions(sources)
    picked, candidates = sample(sources, n, seed, skip=lambda m: in_unreachable(m, dead))
    equiv = load_equivalent(equivalent) if equivalent else {}
    log.write(f"hakmem-fuzz mutate: {len(picked)} of {candidates} mutants of {len(files)} "
              f"files (seed {seed}), {budget:g} s each, {workers} workers; {len(dead)} "
              f"functions unreachable from the API left out; {len(equiv)} mutants listed "
              f"as equivalent{' in ' + equivalent if equivalent else ''}\n")
    rows = [None] * len(picked)
    done = [0]

    def one(i):
        m = picked[i]
        res = run_one(m, sources[m.path], root, budget, seed, oracle, impl, tests)
        rows[i] = tag_equivalent(dict(m.as_dict(), diff=m.diff(sources[m.path]),
                                      function=enclosing(m, funcs), **res), equiv)
        done[0] += 1
        what = (f"killed by {res['inv_id']} in {res.get('kill_time', 0):.1f} s"
                if res["status"] == "killed" else rows[i]["status"])
        log.write(f"[{done[0]}/{len(picked)}] {what}: {rows[i]['diff']}\n")
        log.flush()

    t0 = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for f in [pool.submit(one, i) for i in range(len(picked))]:
            f.result()
    except KeyboardInterrupt:
        interrupt()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return summarize([r for r in rows if r is not None],
                     dict(files=files, n=n, budget=budget, seed=seed, workers=workers,
                          oracle=oracle or "hakmem_verify.oracle.lockstep:Oracle",
                          impl=impl or "hakmem_verify.models.fast:FastAllocator",
                          equivalent_list=os.path.relpath(equivalent, root) if equivalent and
                          os.path.abspath(equivalent).startswith(root + os.sep) else equivalent,
                          candidates=candidates, seconds=round(time.monotonic() - t0),
                          tests=list(tests),
                          unreachable=[f"{f.path}:{f.first}-{f.last} {f.qualname}"
                                       for f in dead]))


def main(argv) -> int:
    """``python -m hakmem_verify.mutate.run --worker ...``: the hunt of one mutant in this
    scratch process (:func:`worker`); ``hakmem-fuzz mutate`` is ``hakmem_verify.cli.mutate``."""
    if not argv or argv[0] != "--worker" or len(argv) != 7:
        sys.stderr.write("usage: python -m hakmem_verify.mutate.run --worker MODULE BUDGET SEED "
                         "SCRATCH ORACLE IMPL (run by hakmem-fuzz mutate; see its --help)\n")
        return 2
    return worker(argv[1], float(argv[2]), int(argv[3]), argv[4], argv[5], argv[6])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
