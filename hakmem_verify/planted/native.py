"""Planted bugs compiled into the C pool (``hakmem_verify.models.native``, ``-DHAKMEM_MUTANT=...``,
csrc/hk_mutants.h), so that ``hakmem-fuzz mutants`` tracks the C pool's detection power
beside the model's.  Each is found in one of three ways (its ``kind``):

* ``native``: the lockstep hunt on the C pool built with the bug (the seed samples that
  a sequential run shows; ``--impl hakmem_verify.models.native.mutants:NAME``); SuperSlab mode's planted
  bugs (``hakmem_verify.models.native.mutants.DIFF``) by the differential test in that mode instead
  (``hakmem_verify.explore.differential``: random small Configs and ops on the model and on the
  C pool built with the bug, compared op by op, must disagree: ``DIFF``);
* ``native-stress``: the C stress driver on 4 pthreads (larson, 2,000,000 ops per run,
  new seeds until a run finds it or the budget ends: a race need not show in every run);
  the finding must come from the driver's check named in ``expect`` (``CRASH``: the
  driver died of a signal);
* ``native-tsan``: the ThreadSanitizer build of the driver must report a data race.

Without cffi, a C compiler or a ThreadSanitizer runtime a mutant cannot be run here; it is
reported as ``unavailable`` with the reason (neither killed nor survived).
"""
from __future__ import annotations

import re
import time

from . import KindView, Mutant, register

#: "KIND:NAME" -> Mutant (``kind`` native, native-stress or native-tsan; NAME as in
#: csrc/hk_mutants.h and ``hakmem_verify.models.native.mutants``)
KINDS = ("native", "native-stress", "native-tsan")
NATIVE = KindView(*KINDS)
_loaded = []

_STRESS_OPS = 2_000_000


def _not_a_patch():
    raise TypeError("a native mutant is compiled into the C pool, not applied to the "
                    "model: hakmem-fuzz mutants runs it (hakmem_verify.planted.native.hunt)")


def _register(name: str, kind: str, expect, doc: str, by: str = None) -> None:
    register(Mutant(f"{kind}:{name}", doc, tuple(expect), _not_a_patch, kind=kind,
                    c_name=name, hunted_by=by or kind))


def _bugs() -> dict:
    """NAME -> what the bug is, from the comment of its macro in csrc/hk_mutants.h."""
    from hakmem_verify.models.native import build
    text = (build.CSRC / "hk_mutants.h").read_text()
    what = dict(re.findall(r"#define (HK_\w+) \d+\s*/\*\s*(.*?)\s*\*/", text))
    return {name: what.get(macro, macro) for name, macro in build.MUTANTS.items()}


def load() -> None:
    """Register the C pool's mutants (once; read from csrc/hk_mutants.h)."""
    if _loaded:
        return
    _loaded.append(True)
    from hakmem_verify.models.native.mutants import DIFF, SEQUENTIAL, STRESS
    bugs = _bugs()
    for name in DIFF:
        _register(name, "native", ("DIFF",),
                  f"The C pool built with -DHAKMEM_MUTANT for {name}: {bugs[name]}. Found by "
                  f"the differential test in SuperSlab mode: the model and the C pool run the "
                  f"same ops and their blocks, debug counters or statistics differ.", "diff")
    for name, (expect, _) in SEQUENTIAL.items():
        _register(name, "native", expect,
                  f"The C pool built with -DHAKMEM_MUTANT for {name}: {bugs[name]}. Found by "
                  f"the lockstep hunt on the C pool, as the same sample is in the model.")
    for name, check in STRESS.items():
        _register(name, "native-stress", (check,),
                  f"The C pool built with -DHAKMEM_MUTANT for {name}: {bugs[name]}. Found by "
                  f"the stress driver's {check} check on 4 pthreads.")
    # a lost CAS race: the owner's drain takes the stack while a plain store puts the
    # drained head back, so one block is handed out again while live.  What shows first
    # varies from run to run (40 runs: 29 STRESS-FREE, 9 CRASH, 1 RMT-01, 1
    # STRESS-OVERWRITE): a free of the block fails, its tags see the double allocation or
    # the overwrite, the drain finds a client's bytes as a link, or the pool follows such a
    # link and crashes (gdb: in hk_mini_mag_pop, the block also sat in a mini-magazine and
    # its client's tag overwrote the link; the hot path does not validate links)
    name = "remote-push-not-atomic"
    _register(name, "native-stress", ("STRESS-FREE", "STRESS-TAG", "STRESS-OVERWRITE",
                                      "RMT-01", "CRASH", "STRESS-CONSERVATION",
                                      "STRESS-EMPTY", "STRESS-OOM"),
              f"The C pool built with -DHAKMEM_MUTANT for {name}: {bugs[name]} (the window "
              f"between the load and the store widened). Found by the stress driver on 4 "
              f"pthreads: a block the drain took comes back on the stack and is handed out "
              f"twice; a free of it fails, the tags see it, the drain reports the corrupted "
              f"stack, or the pool crashes on a link the client overwrote (CRASH: the driver "
              f"died of a signal); a push overwritten by another is lost, so its block stays "
              f"used in the slab though no thread holds it (STRESS-CONSERVATION), its slab "
              f"is never released (STRESS-EMPTY), and enough lost blocks exhaust a small "
              f"pool (STRESS-OOM).")
    name = "seed-stats-global-add"
    _register(name, "native-tsan", ("TSAN",),
              f"The C pool built with -DHAKMEM_MUTANT for {name}: {bugs[name]}. Lost "
              f"updates are rare (a flush every 256 events), so the stress checks do not "
              f"see them; the ThreadSanitizer build reports the data race.")


def run_hint(name: str) -> str:
    """What to type instead of ``hakmem-fuzz run --mutant`` for a native mutant."""
    c_name = name.partition(":")[2]
    return (f"{name} is compiled into the C pool, not planted in the model: hunt it with "
            f"'hakmem-fuzz mutants {name}', or run the C pool built with it: "
            f"--impl hakmem_verify.models.native.mutants:{c_name.replace('-', '_')}")


def names() -> list:
    """The C pool's mutants, every native kind."""
    from . import names as registry_names
    return registry_names(KINDS)


def get(name: str):
    """The C pool's mutant named ``name``, or None."""
    from . import REGISTRY
    load()
    m = REGISTRY.get(name)
    return m if m is not None and m.kind in KINDS else None


def hunt(m, budget: float, seed: int) -> dict:
    """Run native mutant ``m``: a result row for ``hakmem-fuzz mutants``."""
    from hakmem_verify.models.native import unavailable_reason
    from hakmem_verify.models.native.build import NativeUnavailable
    base = {"name": m.name, "equivalent": False, "expect": list(m.expect),
            "machine": m.kind, "seed": seed}
    reason = unavailable_reason(m.c_name)
    if reason:
        return {**base, "killed": False, "unavailable": reason}
    t0 = time.monotonic()
    try:
        if getattr(m, "hunted_by", m.kind) == "diff":
            return {**base, **_diff(m, budget, seed)}
        if m.kind == "native":
            return {**base, **_lockstep(m, budget, seed)}
        if m.kind == "native-tsan":
            return {**base, **_tsan(m, seed, t0)}
        return {**base, **_stress(m, budget, seed, t0)}
    except NativeUnavailable as exc:
        return {**base, "killed": False, "unavailable": str(exc)}


def _lockstep(m, budget, seed) -> dict:
    from hakmem_verify.explore.hunt import hunt as lockstep_hunt
    spec = f"hakmem_verify.models.native.mutants:{m.c_name.replace('-', '_')}"
    r = lockstep_hunt(budget=budget, seed=seed, impl=spec)
    first = r.message.splitlines()[0] if r.message else ""
    return {"killed": r.killed, "inv_id": r.inv_id, "message": first[:300],
            "found": sorted(r.found), "impl": spec,
            "time_to_kill": round(r.time_to_fail, 3) if r.killed else None,
            "elapsed": round(r.elapsed, 2), "repro_steps": r.repro_steps if r.killed else None,
            "examples": r.examples, "trace": [repr(op) for op in r.trace],
            "config": repr(r.config) if r.config is not None else None}


def _diff(m, budget, seed) -> dict:
    """Random SuperSlab-mode cases on the model and the C pool with the bug, compared op
    by op, until they disagree or the budget ends."""
    from hakmem_verify.explore import differential
    r = differential.hunt(m.c_name, budget=budget, seed=seed)
    return {"killed": r.killed, "inv_id": "DIFF" if r.killed else None,
            "message": r.message[:300], "found": ["DIFF"] if r.killed else [],
            "runs": r.cases, "time_to_kill": round(r.elapsed, 3) if r.killed else None,
            "elapsed": round(r.elapsed, 2), "repro_steps": len(r.ops) if r.killed else None,
            "config": repr(r.config) if r.config is not None else None}


def _stress(m, budget, seed, t0) -> dict:
    """Stress runs of the driver with the bug, new seeds until one finds it or the
    budget ends (a race need not show in every run)."""
    from hakmem_verify.models.native import stress
    from hakmem_verify.models.native.build import NativeUnavailable
    runs = 0
    while True:
        runs += 1
        s = seed + runs
        # the seed's flush sample needs the cffi build's statistics read-back; the others
        # run as the plain program (it builds in half the time)
        try:
            if m.c_name == "seed-stats_flush_if_needed":
                r = stress.run(4, "larson", _STRESS_OPS, seed=s, mutant=m.c_name)
            else:
                r = stress.run_program(4, "larson", _STRESS_OPS, mutant=m.c_name, seed=s)
        except stress.TsanUnavailable as exc:        # the program build: no compiler
            raise NativeUnavailable(str(exc)) from None
        killed = r.status != 0
        if killed or time.monotonic() - t0 >= budget:
            break
    check = r.message[1:r.message.index("]")] if r.message.startswith("[") else None
    message = r.message.splitlines()[0][:300] if r.message else ""
    if r.status < 0:                # the program died of a signal: the C pool crashed
        check = "CRASH"
        message = f"the stress driver died of signal {-r.status} ({_signal_name(-r.status)})"
    return {"killed": killed, "inv_id": check or (f"exit {r.status}" if killed else None),
            "message": message,
            "found": [check] if check else [], "runs": runs,
            "time_to_kill": round(time.monotonic() - t0, 3) if killed else None,
            "elapsed": round(time.monotonic() - t0, 2), "repro_steps": None,
            "reproducer": _stress_command(m, f"--ops {_STRESS_OPS} --seed {s}")}


def _tsan(m, seed, t0) -> dict:
    from hakmem_verify.models.native import stress
    from hakmem_verify.models.native.build import NativeUnavailable
    try:
        rc, reports, err = stress.run_tsan(4, "larson", 40_000, mutant=m.c_name, seed=seed + 1)
    except stress.TsanUnavailable as exc:
        raise NativeUnavailable(str(exc)) from None
    first = next((line for line in err.splitlines() if "WARNING: ThreadSanitizer" in line), "")
    return {"killed": reports > 0, "inv_id": "TSAN" if reports else None,
            "message": first.strip()[:300], "found": ["TSAN"] if reports else [],
            "time_to_kill": round(time.monotonic() - t0, 3) if reports else None,
            "elapsed": round(time.monotonic() - t0, 2), "repro_steps": None,
            "reports": reports, "reproducer": _stress_command(m, f"--ops 40000 --seed {seed + 1} "
                                                                 f"--tsan")}


def _signal_name(n: int) -> str:
    import signal
    try:
        return signal.Signals(n).name
    except ValueError:
        return "unknown signal"


def _stress_command(m, tail: str) -> str:
    return (f"hakmem-fuzz stress --impl hakmem_verify.models.native.mutants:{m.c_name.replace('-', '_')} "
            f"--threads 4 --workload larson {tail}")
