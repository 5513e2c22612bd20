"""The report of a ``hakmem-fuzz mutate`` campaign: the score, the checks that killed,
the survivors, the equivalent mutants with their reasons, what was not scored and the
code unreachable from the API (``report.json`` and ``report.md``)."""
from __future__ import annotations

from collections import Counter

from .operators import OPERATORS
from .reach import diff_key


def write(out: str, rep: dict, md: str, write_md: str = None) -> None:
    """``out/report.json`` and ``out/report.md`` (and the markdown at ``write_md`` too)."""
    import json
    import os
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    for path in (os.path.join(out, "report.md"), write_md):
        if path:
            with open(path, "w") as f:
                f.write(md)


def tag_equivalent(row: dict, equiv: dict) -> dict:
    """A survivor on the list becomes ``equivalent`` (with its reason); a listed mutant
    that was killed keeps ``killed`` and the reason, so the report names the wrong claim."""
    reason = equiv.get(diff_key(row["diff"], row.get("function", "<module>")))
    if reason is not None:
        row["equivalent_reason"] = reason
        if row["status"] == "survived":
            row["status"] = "equivalent"
    return row


def summarize(rows: list, params: dict) -> dict:
    st = Counter(r["status"] for r in rows)
    scored = st["killed"] + st["survived"]
    return dict(params, score=(st["killed"] / scored) if scored else None, killed=st["killed"],
                survived=st["survived"], equivalent=st["equivalent"],
                import_errors=st["import"], start_crashes=st["start"],
                wrong_equivalence=[r["diff"] for r in rows if r["status"] == "killed"
                                   and "equivalent_reason" in r],
                by_check=dict(Counter(r["inv_id"] for r in rows if r["status"] == "killed")
                              .most_common()),
                by_operator={op: dict(Counter(r["status"] for r in rows
                                              if r["operator"] == op)) for op in OPERATORS},
                mutants=rows)


def markdown(rep: dict, command: str) -> str:
    pct = score_text(rep)
    total = rep["killed"] + rep["survived"] + rep["equivalent"]
    raw = f"{100 * rep['killed'] / total:.1f}%" if total else "n/a"
    out = [f"# Mutation score: {pct}", "",
           f"`{command}`", "",
           f"{rep['killed']} killed, {rep['survived']} survived of "
           f"{rep['killed'] + rep['survived']} scored mutants (sampled from "
           f"{rep['candidates']} candidates, seed {rep['seed']}, {rep['budget']:g} s each, "
           f"{rep['seconds']} s in all); {rep['equivalent']} survivors are on the list of "
           f"equivalent mutants (not scored; counted as survivors the score would be {raw}); "
           f"{rep['import_errors']} failed to import and {rep['start_crashes']} crashed at "
           f"start (not scored).", ""]
    if rep["n"] < 100 or rep["budget"] < 30:
        out += [f"A small sample ({rep['n']} mutants, {rep['budget']:g} s each): the score's "
                f"error is wide; the score to quote is a nightly run with --n 100 --budget 30.",
                ""]
    out += ["## Killed by", "", "| check | mutants |", "|---|---:|"]
    out += [f"| {k} | {v} |" for k, v in rep["by_check"].items()]
    out += ["", "## Survivors", ""]
    out += [f"- `{r['diff']}` ({r['operator']})" for r in rep["mutants"]
            if r["status"] == "survived"] or ["(none)"]
    out += ["", f"## Equivalent (on the list `{rep.get('equivalent_list') or '-'}`, not scored)",
            ""]
    out += [f"- `{r['diff']}` (in `{r.get('function', '<module>')}`): {r['equivalent_reason']}"
            for r in rep["mutants"]
            if r["status"] == "equivalent"] or ["(none)"]
    if rep["wrong_equivalence"]:
        out += ["", "## Listed as equivalent, but killed (the list is wrong: remove them)", ""]
        out += [f"- `{d}`" for d in rep["wrong_equivalence"]]
    out += ["", "## Not scored (import error or crash at start)", ""]
    out += [f"- `{r['diff']}`: {r['message']}" for r in rep["mutants"]
            if r["status"] in ("import", "start")] or ["(none)"]
    out += ["", "## Unreachable from the API (not sampled)", "",
            "Functions no code reachable from the methods of `hakmem_verify.contract.api.Allocator` and "
            "`hakmem_verify.contract.api.Hooks` names (hakmem_verify/mutate/reach.py):", ""]
    out += [f"- `{u}`" for u in rep.get("unreachable", [])] or ["(none)"]
    return "\n".join(out + every_mutant(rep["mutants"])) + "\n"


def score_text(rep: dict) -> str:
    """The report's score in percent with one decimal (``81.5%``), ``n/a`` when no mutant
    was scored."""
    return "n/a" if rep["score"] is None else f"{100 * rep['score']:.1f}%"


def every_mutant(rows: list) -> list:
    """Markdown lines of the section that lists every mutant: its diff, its operator, the
    check that killed it (else its status) and the seconds the kill took."""
    out = ["", "## Every mutant", "", "| mutant | operator | result | kill time (s) |",
           "|---|---|---|---:|"]
    for r in rows:
        res = r["inv_id"] if r["status"] == "killed" else r["status"]
        kt = f"{r.get('kill_time', 0):.1f}" if r["status"] == "killed" else ""
        diff = r["diff"].replace("|", "\\|")
        out.append(f"| `{diff}` | {r['operator']} | {res} | {kt} |")
    return out


def below_min_score(prog: str, rep: dict, min_score, out: str) -> bool:
    """Whether the score is below ``min_score`` (None: no floor; no score counts as 0);
    if so, one line says where the survivors are listed."""
    low = min_score is not None and (rep["score"] or 0) < min_score
    if low:
        print(f"{prog}: score below --min-score {min_score}: read the survivors in "
              f"{out}/report.md and add a check that kills them")
    return low


__all__ = ["below_min_score", "every_mutant", "markdown", "score_text", "summarize",
           "tag_equivalent"]
