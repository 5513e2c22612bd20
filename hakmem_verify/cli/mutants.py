"""hakmem-fuzz mutants: run the lockstep machines against every planted bug.

    hakmem-fuzz mutants [--budget SECONDS] [--json [FILE]] [--list] [--workers N]
                        [--fast-only] [--seed S] [NAME ...]

``--list`` prints the catalogue, one line per mutant: name, kind, the
invariant IDs expected to catch it, and the first line of its description;
with ``--json`` the same as a JSON list (name, kind, description, expect).

For each mutant (all, or the NAMEs given) the machine hunts under the bug,
in parallel across cores, until it fails or the budget ends, and prints a
table: mutant | killed | invariant that fired | expected | time to kill |
steps in the shrunk reproducer | preemptions in its schedules (planted races,
``kind: concurrency``, hunted by the concurrent machine ``hakmem_verify.explore.concurrent_hunt``:
their reproducer is a Config and rounds of thread programs with schedules, its
steps are ops).  The C pool's compile-time mutants (``native:``, ``native-stress:``,
``native-tsan:``, see ``hakmem_verify.planted.native``) are hunted by the lockstep machine on the
C pool, its stress driver on pthreads, or its ThreadSanitizer build; where the C pool
cannot be built they are reported as unavailable (not a failure).  "Time to kill" is the hunt's own clock up to
the first failing example (before shrinking); the progress lines on stderr
show wall-clock time since the command started, which also counts process
start-up, waiting for a free core and shrinking.  Exit status 1 if a catalogued mutant
survives, is killed by an invariant it does not expect, or an equivalent
mutant is killed (its equivalence argument is then wrong); 2 on bad usage or an
unwritable ``--json`` FILE; 3 interrupted (SIGINT, SIGTERM: the table and the JSON
cover the mutants that finished).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import sys
import time
from multiprocessing import get_context

PROG = "hakmem-fuzz mutants"


def _hunt_one(args):
    name, budget, seed = args
    from hakmem_verify import planted as mutants
    from hakmem_verify.explore.hunt import hunt
    m = mutants.get(name)
    if kind(m) == "concurrency":
        return _hunt_race(m, budget, seed)
    if kind(m).startswith("native"):
        from hakmem_verify.planted import native
        return native.hunt(m, budget, seed)
    try:
        with m.apply():
            r = hunt(budget=budget, seed=seed, config_strategy=m.configs)
    except Exception as exc:  # a crashing hunt is reported, not fatal
        return {"name": name, "killed": False, "error": f"{type(exc).__name__}: {exc}",
                "equivalent": m.equivalent, "expect": list(m.expect)}
    first = r.message.splitlines()[0] if r.message else ""
    return {"name": name, "killed": r.killed, "inv_id": r.inv_id, "message": first[:300],
            "found": sorted(r.found),
            "time_to_kill": round(r.time_to_fail, 3) if r.killed else None,
            "elapsed": round(r.elapsed, 2), "repro_steps": r.repro_steps if r.killed else None,
            "examples": r.examples, "seed": r.seed, "equivalent": m.equivalent,
            "expect": list(m.expect), "trace": [repr(op) for op in r.trace],
            "config": repr(r.config) if r.config is not None else None}


def _hunt_race(m, budget, seed) -> dict:
    """A planted race, hunted by the concurrent machine (``hakmem_verify.explore.concurrent_hunt``); its
    reproducer is a Config and rounds (programs and schedules), ``repro_steps`` its ops."""
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.explore.concurrent_hunt import hunt_concurrent
    from hakmem_verify.contract.ops import op_repr
    base = {"name": m.name, "equivalent": m.equivalent, "expect": list(m.expect),
            "machine": "concurrent"}
    try:
        with m.apply():
            r = hunt_concurrent(RefAllocator, FastAllocator, budget=budget, seed=seed,
                                config_strategy=m.configs)
    except Exception as exc:  # a crashing hunt is reported, not fatal
        return {**base, "killed": False, "error": f"{type(exc).__name__}: {exc}"}
    first = r.message.splitlines()[0] if r.message else ""
    return {**base, "killed": r.killed, "inv_id": r.inv_id, "message": first[:300],
            "found": [r.inv_id] if r.killed else [],
            "time_to_kill": round(r.time_to_fail, 3) if r.killed else None,
            "elapsed": round(r.seconds, 2), "repro_steps": r.ops if r.killed else None,
            "preemptions": r.preemptions if r.killed else None,
            "examples": r.examples, "seed": seed,
            "config": repr(r.config) if r.config is not None else None,
            "rounds": [[{str(t): [op_repr(op) for op in p] for t, p in progs.items()}, sched]
                       for progs, sched in r.rounds],
            "reproducer": r.reproducer}


def kind(m) -> str:
    """planted | seed-sample | hang | equivalent | concurrency | native | native-stress |
    native-tsan."""
    if m.kind not in ("model", "hang"):
        return m.kind
    if m.equivalent:
        return "equivalent"
    if m.name.startswith("seed-"):
        return "seed-sample"
    return "hang" if m.kind == "hang" else "planted"


def catalogue() -> list:
    """[{name, kind, description, expect}] of every mutant."""
    from hakmem_verify import planted as mutants
    return [{"name": n, "kind": kind(mutants.get(n)),
             "description": inspect.cleandoc(mutants.get(n).doc),
             "expect": list(mutants.get(n).expect)} for n in mutants.names()]


def _print_list(as_json: bool) -> int:
    rows = catalogue()
    try:
        if as_json:
            print(json.dumps(rows, indent=2))
        else:
            width = max(len(r["name"]) for r in rows)
            for r in rows:
                first = " ".join(r["description"].split("\n\n")[0].split())
                first = first.split(". ")[0].rstrip(".") + "."
                print(f"{r['name']:<{width}}  {r['kind']:<13}  "
                      f"{','.join(r['expect']) or '-':<22}  {first}")
        sys.stdout.flush()
    except BrokenPipeError:              # `hakmem-fuzz mutants --list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def verdict(row) -> str:
    if row.get("error"):
        return "ERROR"
    if row.get("unavailable"):
        return "unavailable"
    if row["equivalent"]:
        return "EQUIVALENT-KILLED" if row["killed"] else "equivalent"
    if not row["killed"]:
        return "SURVIVED"
    expected = set(row["expect"]) & set(row.get("found") or [row["inv_id"]])
    return "killed" if expected else "KILLED-UNEXPECTED"


def _table(rows) -> str:
    head = ("mutant", "verdict", "invariant", "expected", "time to kill", "repro steps",
            "preemptions")
    lines = [head]
    for r in rows:
        lines.append((r["name"], verdict(r), r.get("inv_id") or "-",
                      ",".join(r["expect"]) or "-",
                      f"{r['time_to_kill']:.2f}s" if r.get("time_to_kill") is not None else "-",
                      str(r["repro_steps"]) if r.get("repro_steps") is not None else "-",
                      str(r["preemptions"]) if r.get("preemptions") is not None else "-"))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for k, line in enumerate(lines):
        out.append(" | ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        if k == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def _secs(t) -> str:
    return "-" if t is None else f"{t}s"


def summary(rows) -> dict:
    killed = [r for r in rows if r["killed"] and not r["equivalent"]]
    # the medians are the model's hunts' (a C pool stress run has no comparable clock)
    hunted = [r for r in killed if not str(r.get("machine", "")).startswith("native")]
    times = [r["time_to_kill"] for r in hunted]
    steps = [r["repro_steps"] for r in hunted if r.get("repro_steps") is not None]
    native = [r for r in rows if str(r.get("machine", "")).startswith("native")]
    return {
        "mutants": len(rows),
        "catalogued": sum(not r["equivalent"] and not r.get("unavailable") for r in rows),
        "killed": len(killed),
        "survived": [r["name"] for r in rows if verdict(r) == "SURVIVED"],
        "unavailable": {r["name"]: r["unavailable"] for r in rows if r.get("unavailable")},
        "unexpected": [r["name"] for r in rows if verdict(r) == "KILLED-UNEXPECTED"],
        "equivalent": [r["name"] for r in rows if r["equivalent"]],
        "median_time_to_kill": round(statistics.median(times), 4) if times else None,
        "max_time_to_kill": max(times) if times else None,
        "median_repro_steps": statistics.median(steps) if steps else None,
        "native": {"run": sum(not r.get("unavailable") for r in native),
                   "killed": sum(bool(r["killed"]) for r in native), "of": len(native)},
    }


def _parser() -> argparse.ArgumentParser:
    from hakmem_verify.contract.cli import at_least, number, positive_int
    p = argparse.ArgumentParser(prog=PROG, description="Run the machines against the planted "
                                "bugs.")
    p.add_argument("names", nargs="*", metavar="NAME", help="mutants to run (default: all)")
    p.add_argument("--budget", type=number("--budget"), default=60.0,
                   help="seconds per mutant before it counts as surviving (default 60)")
    p.add_argument("--json", metavar="FILE", nargs="?", const="-",
                   help="also write the results as JSON to FILE ('-' or no FILE: stdout, "
                        "the table then goes to stderr); with --list: the catalogue as JSON")
    p.add_argument("--list", action="store_true",
                   help="print the catalogue, one line per mutant: name, kind, expected "
                        "invariant IDs, what the bug is")
    p.add_argument("--workers", type=positive_int("--workers"), default=os.cpu_count() or 1,
                   help="parallel processes (default: all cores)")
    p.add_argument("--fast-only", action="store_true", help="only the CI subset")
    p.add_argument("--seed", type=at_least(0, "--seed"), default=0,
                   help="first Hypothesis seed (default 0)")
    return p


def main(argv=None) -> int:
    from hakmem_verify.contract.cli import first_unwritable, usage_error
    from hakmem_verify import planted as mutants
    p = _parser()
    try:
        args = p.parse_args(argv)
        if args.list:
            return _print_list(args.json is not None)
        unknown = [n for n in args.names if n not in mutants.names()]
        if unknown:
            p.error(f"unknown mutant(s): {', '.join(unknown)}; see --list")
    except SystemExit as exc:          # --help (0) or a usage error (2, message on stderr)
        return exc.code if isinstance(exc.code, int) else 2
    problem = first_unwritable(files=[(args.json, "--json")])
    if problem:
        return usage_error(PROG, problem)
    names = args.names or [n for n in mutants.names()
                           if not args.fast_only or mutants.get(n).fast]
    rows, stopped = _hunt_all(names, args)
    rows.sort(key=lambda r: names.index(r["name"]))
    bad = _report(rows, args)
    if stopped:
        from hakmem_verify.contract.cli import interrupted
        return interrupted(PROG, f"{len(rows)} of {len(names)} mutants finished; the results "
                                 "above cover them; run again for the rest")
    return 1 if bad else 0


def _hunt_all(names, args) -> tuple:
    """(rows, interrupted): hunt every mutant in a pool of processes until done or a signal."""
    from hakmem_verify.contract.cli import ignore_sigint
    start = time.monotonic()
    rows = []
    jobs = [(n, args.budget, args.seed) for n in names]
    workers = min(args.workers, len(jobs))
    pool = get_context("spawn").Pool(workers, initializer=ignore_sigint)
    try:
        print(f"{PROG}: hunting {len(jobs)} mutants, {args.budget:g} s each, {workers} at a "
              "time", file=sys.stderr, flush=True)
        for row in pool.imap_unordered(_hunt_one, jobs):
            rows.append(row)
            kill = f" in {row['time_to_kill']:.2f}s of hunting" \
                if row.get("time_to_kill") is not None else ""
            print(f"[{time.monotonic() - start:6.1f}s since start] {row['name']}: "
                  f"{verdict(row)} {row.get('inv_id') or ''}{kill}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        return rows, True
    finally:
        pool.terminate()
        pool.join()
    return rows, False


def _report(rows, args) -> list:
    """Print the table and the summary, write the JSON; the rows that fail the run."""
    table_out = sys.stderr if args.json == "-" else sys.stdout
    print(_table(rows), file=table_out)
    s = summary(rows)
    print(f"\n{s['killed']}/{s['catalogued']} catalogued mutants killed; "
          f"median time to kill {_secs(s['median_time_to_kill'])}, max "
          f"{_secs(s['max_time_to_kill'])} "
          f"(the hunt's clock to the first failing example; the model's mutants); "
          f"median shrunk reproducer {s['median_repro_steps'] or '-'} steps; "
          f"equivalent (reported separately): {', '.join(s['equivalent']) or 'none'}",
          file=table_out)
    if s["native"]["of"]:
        n = s["native"]
        print(f"of them, the C pool's compile-time mutants: {n['killed']} of {n['run']} run "
              f"killed ({n['of']} catalogued)", file=table_out)
    if s["unavailable"]:
        print(f"not run here ({len(s['unavailable'])}, neither killed nor survived): "
              + "; ".join(sorted(set(s["unavailable"].values()))), file=table_out)
    if args.json:
        doc = {"summary": s, "budget": args.budget, "results": rows}
        if args.json == "-":
            print(json.dumps(doc, indent=2))
        else:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=2)
    return [r for r in rows if verdict(r) in ("SURVIVED", "KILLED-UNEXPECTED",
                                              "EQUIVALENT-KILLED", "ERROR")]


if __name__ == "__main__":
    sys.exit(main())
