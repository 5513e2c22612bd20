"""Lockstep comparisons: the implementation against the reference, one op at a time.

An observation is what a client sees of one call: ``ok`` with its value, ``oom``,
or the type of the contract error raised (``hakmem_verify.contract.api.AllocatorError``).  Anything
else escaping a call is itself a finding (LOCK-03), never a raw traceback.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from .registry import fail, form_of, invariant


class Obs(NamedTuple):
    kind: str               # "ok" | "oom" | "error"
    value: object = None    # the result (ok) or the exception (error)

    @property
    def error_type(self):
        return type(self.value) if self.kind == "error" else None

    def describe(self) -> str:
        if self.kind == "error":
            return f"raised {type(self.value).__name__}: {self.value}"
        if self.kind == "oom":
            return "returned out of memory"
        return "succeeded" if self.value is None else f"returned {self.value!r}"


@invariant("LOCK-01", level=1, scope="op", cost="O(1) (O(heap) state compare on small heaps)",
           where="every op", planted="error-changes-state")
def lock_01_outcome(what: str, ref: Obs, fast: Obs, also_ok=(), compare_values=True) -> None:
    """same outcome as the reference: ok / out of memory / the same error type (and value for
    reads); state unchanged on error"""
    if ref.kind != fast.kind or (ref.kind == "error" and ref.error_type is not fast.error_type
                                 and fast.error_type not in also_ok):
        fail("LOCK-01", f"{what}: reference {ref.describe()}; implementation {fast.describe()}")
    if compare_values and ref.kind == "ok" and ref.value != fast.value:
        fail("LOCK-01", f"{what}: reference returned {ref.value!r}, implementation "
                        f"{fast.value!r}")


@form_of("LOCK-01")
def lock_01_unchanged(what: str, err: BaseException, changed: bool) -> None:
    """LOCK-01, the state half: an error leaves the implementation's state unchanged."""
    if changed:
        fail("LOCK-01", f"{what}: the implementation raised {type(err).__name__} but changed "
                        f"its state (errors must leave the state unchanged)")


@invariant("LOCK-02", level=1, scope="op", cost="O(1)", where="every alloc",
           planted="size-class-off-by-one")
def lock_02_usable(size: int, ref_usable: int, fast_usable: int) -> None:
    """usable size == the reference's and >= the size asked"""
    if ref_usable != fast_usable or fast_usable < size:
        fail("LOCK-02", f"alloc({size}): usable size reference {ref_usable}, implementation "
                        f"{fast_usable}")


@invariant("LOCK-03", level=1, scope="op", cost="O(1)", where="every call of every op",
           planted="crash-in-free")
def lock_03_no_crash(what: str, side: str, exc: Optional[BaseException]) -> None:
    """a call raises nothing but the contract's errors (AllocatorError); anything else escaping
    is a finding naming the op and the side"""
    if exc is not None:
        fail("LOCK-03", f"{what}: the {side} raised {type(exc).__name__}: {exc} (not an "
                        f"AllocatorError: a crash of the {side})")


@invariant("OOM-01", level=2, scope="op", cost="O(slabs of the class)",
           where="every out of memory", planted="partial-slabs-ignored")
def oom_01_justified(snap, size: int, tid: int, c: int) -> None:
    """out of memory only if tid can reach no free block of the class (its magazine, its A/B,
    unowned slabs, a new slab under the limit; in SuperSlab mode its tls_sll, and unowned
    slabs only of SuperSlabs it owns or may reclaim); blocks stranded in other threads are
    reported as oom_stranded"""
    cfg = snap.config
    reachable = []
    t = snap.threads.get(tid)
    mine = set()
    if t is not None:
        if t.magazines[c]:
            reachable.append(f"{len(t.magazines[c])} blocks in tid {tid}'s magazine")
        mine = {b for b in (t.active_a[c], t.active_b[c]) if b is not None}
        if t.tls_sll and t.tls_sll[c]:
            reachable.append(f"{len(t.tls_sll[c])} blocks on tid {tid}'s tls_sll")
    nslabs = 0
    for s in snap.slabs.values():
        if s.class_idx != c:
            continue
        nslabs += 1
        # SuperSlab mode: tid adopts unowned slabs only of SuperSlabs it owns or reclaims
        if (s.owner is None and s.ss_owner in (None, tid)) or s.base in mine:
            n = s.free_count + s.mini_mag_count + len(s.remote)
            if n:
                reachable.append(f"{n} free blocks in slab {hex(s.base)} (owner {s.owner})")
    if cfg.max_slabs_per_class is None or nslabs < cfg.max_slabs_per_class:
        reachable.append(f"room for a new slab ({nslabs} of {cfg.max_slabs_per_class} in use)")
    if reachable:
        fail("OOM-01", f"alloc({size}, tid={tid}) returned out of memory for class {c} but the "
                       f"reference succeeded and tid {tid} can reach: " + "; ".join(reachable))
