"""What the parent of ``hakmem-fuzz run`` knows about a campaign, from the workers' messages.

Per worker: totals, status and database counts.  For the campaign: the
failures, deduplicated by (invariant ID, planted bug, Config, shrunk trace):
a failure two workers found is reported once, with the other finders listed
and the second reproducer deleted; across the two machines (lockstep and
concurrent), a failure with the invariant ID and planted bug of one the other
machine found is listed as its duplicate, its reproducer kept (the two replay
differently); the distinct behaviours with the time
each was first reached; a timeline of (elapsed, examples, steps, behaviours)
samples for the plots.
"""
from __future__ import annotations

import os
import time

from .worker import seed_start

MAX_SAMPLES = 2000                # the timeline is thinned to stay under this


class Campaign:
    """State gathered from the workers; ``handle`` takes one queue message."""

    def __init__(self, params: dict):
        self.params = params
        self.started = time.time()
        self.finished = None
        self.stop_reason = None
        self.signals = 0
        self.failures: list = []
        self.first_seen: dict = {}        # behaviour -> seconds after the start
        self.timeline: list = [[0.0, 0, 0, 0]]  # [elapsed_s, examples, steps, behaviours]
        self.db_check: dict = {}          # hakmem_verify.runner.db.check's result
        self.report_errors: list = []
        self.workers = [{"index": i, "pid": None, "seed_start": seed_start(params, i),
                         "status": "starting", "exitcode": None, "error": None,
                         "examples": 0, "steps": 0, "elapsed": 0.0, "cpu": 0.0, "events": {},
                         "checks": {}, "paths": {}, "db": None, "lockstep_s": None,
                         "concurrent": None}
                        for i in range(params["workers"])]

    def elapsed(self) -> float:
        return time.time() - self.started

    def handle(self, msg) -> None:
        kind, index, body = msg
        w = self.workers[index]
        if kind in ("progress", "done"):
            behaviours = body.pop("behaviours", ())
            w.update(body)
            self._behaviours(behaviours)
            if kind == "done":
                w["status"] = "failed" if any(f["worker"] == index for f in self.failures) \
                    or any(d["worker"] == index for f in self.failures
                           for d in f["duplicates"]) else "finished"
                w["error"] = None
        elif kind == "failure":
            self._failure(body)
            w["status"] = "failed"
        elif kind == "error":
            w["status"], w["error"] = "crashed", body

    def _behaviours(self, behaviours) -> None:
        t = round(self.elapsed(), 2)
        new = [b for b in behaviours if b not in self.first_seen]
        for b in new:
            self.first_seen[b] = t
        tot = self.totals()
        last = self.timeline[-1] if self.timeline else None
        if new or last is None or t - last[0] >= 1.0:
            self.timeline.append([t, tot["examples"], tot["steps"], len(self.first_seen)])
        if len(self.timeline) > MAX_SAMPLES:
            self.timeline = self.timeline[::2] + ([self.timeline[-1]]
                                                  if len(self.timeline) % 2 == 0 else [])

    @staticmethod
    def failure_key(f: dict) -> tuple:
        return (f["inv_id"], f.get("mutant"), f.get("config"), tuple(f.get("trace") or ()))

    def _failure(self, f: dict) -> None:
        key = self.failure_key(f)
        machine = f.get("machine", "lockstep")
        for known in self.failures:
            if self.failure_key(known) == key and f.get("trace"):
                known["duplicates"].append({"worker": f["worker"], "seed": f["seed"]})
                dup = f.get("reproducer")
                if dup and dup != known.get("reproducer") and os.path.exists(dup):
                    os.remove(dup)        # the same trace: one reproducer is enough
                return
        for known in self.failures:       # the same finding, reached by the other machine
            if known.get("machine", "lockstep") != machine and \
                    (known["inv_id"], known.get("mutant")) == (f["inv_id"], f.get("mutant")):
                known["duplicates"].append({"worker": f["worker"], "seed": f["seed"],
                                            "machine": machine,
                                            "reproducer": f.get("reproducer")})
                return
        self.failures.append(f)

    def totals(self) -> dict:
        return {"examples": sum(w["examples"] for w in self.workers),
                "steps": sum(w["steps"] for w in self.workers)}

    def concurrent_totals(self) -> dict:
        """Schedules and steps of the concurrent machine over all workers."""
        cs = [w["concurrent"] or {} for w in self.workers]
        return {"schedules": sum(c.get("schedules", 0) for c in cs),
                "steps": sum(c.get("steps", 0) for c in cs)}

    def progress_line(self) -> str:
        el = self.elapsed()
        t = self.totals()
        running = sum(w["status"] in ("running", "starting") for w in self.workers)
        since = el - max(self.first_seen.values(), default=0.0)
        conc = ""
        if (self.params.get("concurrent_share") or 0) > 0:
            c = self.concurrent_totals()
            conc = (f"concurrent: {c['schedules']:,} schedules, {c['steps']:,} steps | ")
        return (f"[hakmem-fuzz] {int(el) // 60}:{int(el) % 60:02d} elapsed | {running}/"
                f"{len(self.workers)} workers | lockstep: {t['examples']:,} examples | "
                f"{t['steps']:,} steps | {t['steps'] / max(el, 1e-9):,.0f} steps/s | {conc}"
                f"{len(self.first_seen)} behaviours (last new {since:.0f} s ago) | "
                f"{len(self.failures)} failures")
