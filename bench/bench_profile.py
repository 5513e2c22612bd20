"""The profile that bench_lockstep.py prints for a case whose per-op cost grows: the
functions by per-op cumulative time, beside the same functions in the baseline case."""
from __future__ import annotations

import cProfile
import os
import pstats

#: frames that only drive the work (the bench scripts, the oracle's run and apply loops), left
#: out of the comparison
SKIP = ("hakmem_verify/oracle/lockstep.py:198(run)", "{built-in method builtins.exec}", "<string>:1(<module>)",
        "lockstep.py:202(apply)", "bench_lockstep.py", "bench_profile.py")


def profile_ops(oracle, ops) -> pstats.Stats:
    """cProfile statistics of running ops on the oracle at check level 2 (what unchecked
    ops touched dropped first)."""
    oracle.check_level = 2
    oracle.fast.take_footprint()
    prof = cProfile.Profile()
    prof.enable()
    oracle.run(ops)
    prof.disable()
    return pstats.Stats(prof)


def _rows(stats: pstats.Stats) -> dict:
    """{"path:line(function)": (calls, tottime, cumtime)}, paths relative to the root."""
    out = {}
    for (path, line, fn), (_cc, nc, tt, ct, _) in stats.stats.items():
        rel = path.replace(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep, "")
        out[f"{rel}:{line}({fn})"] = (nc, tt, ct)
    return out


def compare_profiles(base: pstats.Stats, slow: pstats.Stats, n_ops: int, labels, top: int = 14):
    """Functions by per-op cumulative time in the slow case, beside the baseline."""
    b, s = _rows(base), _rows(slow)
    keys = [k for k in sorted(s, key=lambda k: -s[k][2]) if not any(x in k for x in SKIP)][:top]
    print(f"    {'function':62s} {'calls/op':>8s} {labels[0]:>12s} {labels[1]:>12s} {'x':>6s}"
          f"   (cumulative us per op; tottime us/op of the slow case)")
    for k in keys:
        nc, tt, ct = s[k]
        bct = b.get(k, (0, 0, 0))[2]
        grow = f"{ct / bct:6.1f}" if bct else "   new"
        print(f"    {k[-62:]:62s} {nc / n_ops:8.1f} {bct / n_ops * 1e6:12.0f} "
              f"{ct / n_ops * 1e6:12.0f} {grow}   tot {tt / n_ops * 1e6:.0f}")
