"""The report of a ``hakmem-fuzz mutate --c-file`` campaign (``report.json``, ``report.md``).

The score and the per-check and per-operator counts come from
``hakmem_verify.mutate.report.summarize``, as for Python files:
``score = killed / (killed + survived)``.  A mutant's status is one of

* ``killed``      a check failed (``inv_id``: MALLOC-xx, CRASH, ABORT, HANG, a stress
                  check, or ``timeout`` when the worker outlived its watchdog);
* ``survived``    the budget ended first;
* ``equivalent``  its build is identical to the unmutated build (not scored);
* ``no-build``    the build command failed (not scored);
* ``build-hang``  the build ran past ``--build-timeout`` (not scored);
* ``error``       the harness could not hunt it (not scored; the message says why).
"""
from __future__ import annotations

from collections import Counter

from .operators import OPERATORS
from .report import every_mutant, score_text, summarize

HANG_IDS = ("HANG", "timeout")
_PYTHON_ONLY = ("import_errors", "start_crashes", "wrong_equivalence")


def summarize_c(rows: list, params: dict) -> dict:
    """The report as a dict: ``summarize``'s counts, less the Python-only ones, plus the
    builds that failed or hung, the hangs among the kills and the mutants not run."""
    rep = summarize(rows, params)
    for key in _PYTHON_ONLY:
        rep.pop(key, None)
    st = Counter(r["status"] for r in rows)
    rep.update(did_not_build=st["no-build"], build_hangs=st["build-hang"], errors=st["error"],
               hunted=st["killed"] + st["survived"] + st["error"],
               hangs=sum(1 for r in rows if r["status"] == "killed"
                         and r.get("inv_id") in HANG_IDS))
    return rep


def _median(xs: list) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def _listing(rows: list, status: str, with_message: bool = False) -> list:
    out = [f"- `{r['diff']}` ({r['operator']})" + (f": {r.get('message', '')}"
                                                   if with_message else "")
           for r in rows if r["status"] == status]
    return out or ["(none)"]


def markdown(rep: dict) -> str:
    pct = score_text(rep)
    rows = rep["mutants"]
    scored = rep["killed"] + rep["survived"]
    out = [f"# Mutation score of {rep['c_file']}: {pct}", "", f"`{rep['command']}`", "",
           f"{rep['killed']} killed ({rep['hangs']} of them hangs), {rep['survived']} "
           f"survived of {scored} scored mutants ({rep['sampled']} sampled from "
           f"{rep['candidates']} candidates whose build differs from the unmutated build, "
           f"seed {rep['seed']}, {rep['budget']:g} s of "
           f"hunting each{' plus the stress workloads' if rep['stress'] else ''}, "
           f"{rep['seconds']} s in all).  Not scored: {rep['equivalent']} builds identical to "
           f"the unmutated build (equivalent), {rep['did_not_build']} that did not build, "
           f"{rep['build_hangs']} builds that hung, {rep['errors']} that could not be hunted.",
           ""]
    if rep.get("interrupted"):
        out += [f"**Interrupted**: {rep['hunted']} of {rep['sampled']} hunts finished; the "
                f"score covers them only.", ""]
    if rep["n"] < 100 or rep["budget"] < 30:
        out += [f"A small sample ({rep['n']} mutants, {rep['budget']:g} s each): the score's "
                f"error is wide; quote a run with -n 100 --budget 30.", ""]
    times = {}
    for r in rows:
        if r["status"] == "killed":
            times.setdefault(r["inv_id"], []).append(r.get("kill_time", 0.0))
    out += ["## Killed by", "", "| check | mutants | median time to kill (s) |",
            "|---|---:|---:|"]
    out += [f"| {k} | {v} | {_median(times[k]):.1f} |" for k, v in rep["by_check"].items()]
    out += ["", "## By operator", "", "| operator | killed | survived | not scored |",
            "|---|---:|---:|---:|"]
    for op in OPERATORS:
        c = rep["by_operator"].get(op, {})
        rest = sum(c.values()) - c.get("killed", 0) - c.get("survived", 0)
        out.append(f"| {op} | {c.get('killed', 0)} | {c.get('survived', 0)} | {rest} |")
    out += ["", "## Survivors", ""] + _listing(rows, "survived")
    out += ["", "## Identical builds (equivalent, not scored)", ""] + _listing(rows, "equivalent")
    out += ["", "## Did not build (not scored)", ""] + _listing(rows, "no-build", True)
    out += ["", "## Not hunted (build hung, or the harness could not run it)", ""]
    out += [f"- `{r['diff']}` ({r['status']}): {r.get('message', '')}" for r in rows
            if r["status"] in ("build-hang", "error")] or ["(none)"]
    return "\n".join(out + every_mutant(rows)) + "\n"


__all__ = ["HANG_IDS", "markdown", "summarize_c"]
