"""hakmem-fuzz replay: a recorded trace or a standard workload through the lockstep oracle.

    hakmem-fuzz replay TRACE [--skip-bad] [--threads N --remote P] [options]
    hakmem-fuzz replay --workload NAME [--scale S] [--threads N --remote P] [options]

Every op is applied to the reference and to the fast model and checked
(``hakmem_verify.oracle.lockstep.Oracle``: outcomes, bytes, statistics, the invariant
catalogue at ``--check-level``), then everything is freed and the pool
quiesced and checked again.  A failure is cut down to the shortest failing
prefix, then shrunk, and written as a runnable pytest reproducer.

Exit status: 0 clean, 1 a finding (reproducer written), 2 usage error, an
unwritable --reproducers, or a bad trace (the line number is named) or one with
no allocation; 3 interrupted (SIGINT, SIGTERM: how far it got is printed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Optional

from hakmem_verify.contract.api import Config, ConfigError, InvariantViolation
from hakmem_verify.contract.config import KNOBS
from hakmem_verify.oracle.lockstep import L3_EVERY, Oracle

from hakmem_verify.contract.cli import (EXIT_CLEAN, EXIT_FINDING, EXIT_USAGE, at_least, interrupted,
                               number, positive_int, unwritable_dir)

PROG = "hakmem-fuzz replay"


def default_fast():
    """The allocator under test: the fast model (the one place an --impl choice plugs in)."""
    from hakmem_verify.models.fast import FastAllocator
    return FastAllocator


def parse_config(pairs) -> Config:
    """Config from ``knob=value`` strings; ValueError naming the bad pair and the knobs."""
    kw = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or name not in KNOBS:
            raise ValueError(f"--config {pair!r}: expected knob=value with knob one of "
                             f"{', '.join(KNOBS)}")
        if name == "max_slabs_per_class" and value.lower() == "none":
            kw[name] = None
            continue
        from hakmem_verify.workloads.design_space import parse_knob_value
        try:
            kw[name] = parse_knob_value(name, value)
        except ValueError as e:
            why = str(e) if isinstance(getattr(Config(), name), bool) else \
                f"{name} takes an integer, got {value!r}"
            raise ValueError(f"--config {pair!r}: {why}") from None
    try:
        return Config(**kw)
    except ConfigError as e:
        raise ValueError(str(e)) from None


def oracle_levels(check_level: int):
    """(Oracle check_level, l3_every) for --check-level 0..3 (3: the whole heap every op)."""
    return (2, 1) if check_level >= 3 else (check_level, L3_EVERY)


def check_ops(config: Config, ops: list, *, check_level: int = 2, make_fast=None,
              progress: Optional[Callable[[int, int], None]] = None):
    """Replay ops in lockstep and tear down: (oracle, None) or (oracle, (index, violation)).

    ``index`` is the op that failed (len(ops) for the teardown).
    """
    level, l3_every = oracle_levels(check_level)
    fast = (make_fast or default_fast())(config)
    if getattr(make_fast, "tier", None) == "malloc":     # a C library: the malloc tier
        from hakmem_verify.oracle.malloc import MallocOracle
        oracle = MallocOracle(fast, l3_every=l3_every)
    else:
        from hakmem_verify.models.ref import RefAllocator
        oracle = Oracle(RefAllocator(config), fast, l3_every=l3_every, check_level=level)
    i = 0
    try:
        for i, op in enumerate(ops):
            oracle.apply(op)
            if progress and not i & 255:
                progress(i, len(ops))
        i = len(ops)
        oracle.teardown()
    except InvariantViolation as e:
        if getattr(oracle, "tier", "") == "malloc":
            oracle.close()
        return oracle, (i, e)
    return oracle, None


class Progress:
    """A progress line on stderr every ``every`` seconds."""

    def __init__(self, every: float, out=None):
        self.every, self.out = every, out or sys.stderr
        self.start = self.last = time.monotonic()
        self.done, self.finding = 0, None

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = done / max(now - self.start, 1e-9)
            self.out.write(f"replay: {done:,}/{total:,} ops ({100 * done // max(total, 1)}%), "
                           f"{rate:,.0f} ops/s, {now - self.start:.0f} s\n")
            self.out.flush()


def load_ops(args):
    """(ops, description, skipped counter) from the trace or workload the args name."""
    from hakmem_verify.workloads.trace_import import load_trace, require_allocs, spread
    from hakmem_verify.workloads.seeded import generate
    if args.workload:
        w = generate(args.workload, args.scale, args.seed, args.threads or 4)
        ops = spread(w.ops, None, args.remote, args.seed) if args.remote else w.ops
        return ops, f"workload {w.name} {w.params}", w.skipped
    malloc = getattr(args, "impl_tier", "") == "malloc"   # every size, realloc as itself
    t = require_allocs(load_trace(args.trace, skip_bad=args.skip_bad,
                                  **(dict(malloc=True, max_size=1 << 40) if malloc else {})))
    for lineno, reason in t.bad_lines[:10]:
        sys.stderr.write(f"replay: skipped bad line {args.trace}:{lineno}: {reason}\n")
    ops = spread(t.ops, args.threads, args.remote, args.seed) if (args.threads or args.remote) \
        else t.ops
    return ops, t.summary(), t.skipped


def minimize(config: Config, ops: list, index: int, err: InvariantViolation, *,
             check_level: int, seconds: float, make_fast=None):
    """Shortest failing prefix, then shrunk: (ops, prefix length, inv_id, message)."""
    from hakmem_verify.workloads.trace_shrink import fails_like, shortest_failing_prefix, shrink, simplify
    from hakmem_verify.contract.api import size_to_class

    def run(candidate):
        _, failure = check_ops(config, candidate, check_level=check_level,
                               make_fast=make_fast)
        if failure:
            raise failure[1]
    fails = fails_like(run, err.inv_id)
    hi = min(index + 1, len(ops))
    if not fails(ops[:hi]):                  # flaky under a different ID: accept any
        fails = fails_like(run, None)
    n = shortest_failing_prefix(ops, fails, hi) if fails(ops[:hi]) else hi
    sys.stderr.write(f"replay: shortest failing prefix: {n:,} of {len(ops):,} ops; "
                     f"shrinking (at most {seconds:g} s)\n")
    t0 = time.monotonic()
    small = simplify(ops[:n], fails, lambda size: size_to_class(size, config.class_sizes),
                     seconds / 2)
    if len(small) < n:
        sys.stderr.write(f"replay: {len(small):,} ops after dropping whole kinds of op and "
                         f"merging runs of allocations\n")
    small = shrink(small, fails, seconds - (time.monotonic() - t0))
    try:
        run(small)
        return small, n, err.inv_id, str(err)
    except InvariantViolation as e:
        return small, n, e.inv_id, str(e)


def main(args) -> int:
    """Run ``hakmem-fuzz replay``; the exit status."""
    from hakmem_verify.workloads.trace_import import TraceError
    out = sys.stdout
    if bool(args.trace) == bool(args.workload):
        return _usage(args, "give a TRACE file or --workload NAME (one of them)")
    if not 0.0 <= args.remote <= 1.0:
        return _usage(args, f"--remote is a share of frees in [0, 1], got {args.remote}")
    problem = unwritable_dir(args.reproducers, "--reproducers")
    if problem:
        return _usage(args, problem)
    if args.mutant:
        from hakmem_verify import planted as mutants
        if args.mutant not in mutants.names("model"):
            return _usage(args, f"unknown --mutant {args.mutant!r}; 'hakmem-fuzz run --list' "
                                "lists the planted bugs")
    from hakmem_verify.explore.impl import DEFAULT as DEFAULT_SPEC, resolve_or_exit
    impl = resolve_or_exit(getattr(args, "impl", None))   # the banner; exit 2 if unusable
    if args.mutant and impl.spec != DEFAULT_SPEC:
        return _usage(args, f"--mutant plants bugs in hakmem_verify.models.fast; it cannot apply to --impl "
                            f"{impl.spec}")
    args.impl_spec = None if impl.spec == DEFAULT_SPEC else impl.spec
    args.impl_tier = impl.tier
    make_fast = impl if args.impl_spec else None
    try:
        config = parse_config(args.config)
        ops, what, skipped = load_ops(args)
    except TraceError as e:
        sys.stderr.write(f"hakmem-fuzz replay: bad trace: {e}\n")
        return EXIT_USAGE
    except (ValueError, OSError) as e:
        return _usage(args, str(e))
    out.write(f"replay: {what}\nreplay: {len(ops):,} ops, check level {args.check_level}, "
              f"{'planted bug ' + args.mutant + ', ' if args.mutant else ''}config "
              f"{_config_diff(config) or 'seed defaults'}\n")
    if sum(skipped.values()):
        out.write("replay: skipped " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
                  + "\n")
    out.flush()
    progress = Progress(args.progress_every or (2.0 if sys.stderr.isatty() else 10.0))
    try:
        return _check(args, config, ops, make_fast, progress)
    except KeyboardInterrupt:
        out.flush()
        return _interrupted(args, config, ops, progress)


def _interrupted(args, config, ops, progress) -> int:
    """A signal: a finding seen is written unshrunk (exit 1), else how far it got (exit 3)."""
    if progress.finding is None:
        return interrupted(PROG, f"stopped near op {progress.done:,} of {len(ops):,}, "
                                 "nothing found so far; run it again to finish")
    index, err = progress.finding
    path = _write(args, config, ops[:index + 1], err.inv_id, str(err))
    sys.stderr.write(f"{PROG}: interrupted while shrinking [{err.inv_id}]; the unshrunk "
                     f"reproducer is {path}: run '.venv/bin/pytest {path}'\n")
    return EXIT_FINDING


def _check(args, config, ops, make_fast, progress) -> int:
    """Replay, and on a finding minimize it and write its reproducer; the exit status."""
    out = sys.stdout
    with _maybe_mutant(args.mutant):
        t0 = time.monotonic()
        oracle, failure = check_ops(config, ops, check_level=args.check_level,
                                    progress=progress, make_fast=make_fast)
        elapsed = time.monotonic() - t0
        if failure is None:
            paths = ", ".join(f"{k} {v}" for k, v in sorted(oracle.events.items()))
            levels = ", ".join(f"{k} {oracle.checks[k]:,}" for k in ("L1", "L2", "L3")
                               if oracle.checks.get(k))
            ids = {k: v for k, v in oracle.checks.items() if k not in ("L1", "L2", "L3")}
            levels = levels or f"every op ({oracle.tier} tier)"
            out.write(f"replay: clean: {len(ops):,} ops in {elapsed:.1f} s "
                      f"({len(ops) / max(elapsed, 1e-9):,.0f} ops/s); check runs: {levels}; "
                      f"{sum(ids.values()):,} invariant checks of {len(ids)} IDs\n"
                      f"replay: ops that took each path: {paths}\n")
            return EXIT_CLEAN
        index, err = failure
        out.write(f"replay: FINDING at op {index:,} of {len(ops):,} "
                  f"({'teardown' if index == len(ops) else repr(ops[index])}):\n{err}\n")
        out.flush()
        progress.finding = failure
        small, n, inv_id, message = minimize(config, ops, index, err,
                                             check_level=args.check_level,
                                             seconds=args.shrink_seconds, make_fast=make_fast)
    path = _write(args, config, small, inv_id, message)
    out.write(f"replay: cut to {n:,} ops (shortest failing prefix), shrunk to {len(small)} "
              f"ops: [{inv_id}]\nreplay: reproducer: {path}\n"
              f"replay: next: run '.venv/bin/pytest {path}' (it fails until the bug is fixed)"
              + (" under the planted bug" if args.mutant else "") + "\n")
    return EXIT_FINDING


def _write(args, config, ops, inv_id, message) -> str:
    from hakmem_verify.runner.replay import reproducer_source, _ident
    name = f"{inv_id}_{args.workload or os.path.basename(args.trace)}"
    src = reproducer_source(config, ops, name=name, inv_id=inv_id, message=message,
                            mutant=args.mutant, impl=getattr(args, "impl_spec", None))
    _, l3_every = oracle_levels(args.check_level)
    if l3_every != L3_EVERY:
        call = "replay(CONFIG, OPS, mutant=MUTANT, impl=IMPL)"
        assert call in src, "the reproducer's replay call changed: update this rewrite"
        src = src.replace(call, f"replay(CONFIG, OPS, mutant=MUTANT, impl=IMPL, "
                                f"l3_every={l3_every})")
    os.makedirs(args.reproducers, exist_ok=True)
    path = os.path.join(args.reproducers, f"test_repro_{_ident(name)}.py")
    with open(path, "w") as f:
        f.write(src)
    return path


class _maybe_mutant:
    def __init__(self, name):
        self.cm = None
        if name:
            from hakmem_verify import planted as mutants
            self.cm = mutants.apply(name)

    def __enter__(self):
        return self.cm.__enter__() if self.cm else None

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc) if self.cm else False


def _config_diff(config: Config) -> str:
    base = Config()
    return ", ".join(f"{k}={getattr(config, k)}" for k in KNOBS
                     if getattr(config, k) != getattr(base, k))


def _usage(args, message: str) -> int:
    from hakmem_verify.contract.cli import usage_error
    return usage_error(PROG, message)


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared by replay and explore: workload scale, seed, threads, config."""
    p.add_argument("--scale", type=int, default=1, metavar="S",
                   help="workload size multiplier, an int >= 1 (default: %(default)s)")
    p.add_argument("--seed", type=at_least(0, "--seed"), default=0,
                   help="seed of the workload and of --threads/--remote (default: %(default)s)")
    p.add_argument("--threads", type=positive_int("--threads"), default=None, metavar="N",
                   help="threads: a workload's worker threads (default 4); a trace's ops are "
                        "spread over N threads (default: as recorded, tid 0)")
    p.add_argument("--remote", type=float, default=0.0, metavar="P",
                   help="share of frees made by another thread than the allocating one "
                        "(default: as generated / recorded)")


def register(subparsers) -> None:
    """Add the ``replay`` subcommand to hakmem-fuzz's subparsers."""
    p = subparsers.add_parser(
        "replay", help="replay a valgrind trace or a standard workload through the oracle",
        description=__doc__.split("\n\n")[2].replace("\n", " "),
        epilog="Exit status: 0 clean, 1 finding (reproducer written), 2 usage error, bad "
               "trace or unwritable --reproducers, 3 interrupted (SIGINT, SIGTERM).")
    p.add_argument("trace", nargs="?", metavar="TRACE",
                   help="a valgrind --trace-malloc=yes log (hakmem_verify/workloads/traces/ has recorded ones)")
    p.add_argument("--workload", metavar="NAME",
                   help="a standard workload: larson, xmalloc-test, mstress, cache-scratch, "
                        "sh6bench, glibc-thread")
    add_common(p)
    p.add_argument("--skip-bad", action="store_true",
                   help="skip and count malformed trace lines instead of stopping (exit 2)")
    p.add_argument("--check-level", type=int, choices=(0, 1, 2, 3), default=2, metavar="L",
                   help="0 outcomes and stats only, 1 + statistics invariants, 2 + the "
                        "touched slabs after every op (L3 every 25 ops), 3 the whole heap "
                        "after every op (default: %(default)s)")
    p.add_argument("--config", action="append", metavar="KNOB=VALUE",
                   help=f"a Config knob, repeatable: {', '.join(KNOBS)}")
    p.add_argument("--mutant", metavar="NAME",
                   help="apply a planted bug (checks the replay itself)")
    from hakmem_verify.explore.impl import add_impl_argument
    add_impl_argument(p)
    p.add_argument("--reproducers", default="fuzz-report/reproducers", metavar="DIR",
                   help="where a finding's reproducer goes (default: %(default)s)")
    p.add_argument("--shrink-seconds", type=number("--shrink-seconds", zero_ok=True),
                   default=60.0, metavar="S",
                   help="time budget of the shrink after the prefix cut (default: %(default)s)")
    p.add_argument("--progress-every", type=number("--progress-every"), default=None,
                   metavar="SECONDS",
                   help="progress line interval on stderr (default: 2 on a terminal, else 10)")
    p.set_defaults(handler=main)


__all__ = ["KNOBS", "check_ops", "default_fast", "main", "minimize", "parse_config",
           "register"]
