"""Bugs of released libraries the malloc tier finds, known upstream and fixed in a later
release: on the affected release the ops that trip them are not issued (each skip is
counted and named in the report), so a campaign on that release is clean for everything
else.  ``--include-known`` (or ``include_known=True``) issues them anyway: the check then
fails, as it should.

Each entry: the library's short name, the releases affected (``version`` as the library
reports it, e.g. ``mi_version()`` = 209 for 2.0.9), the check that fails, the ops that
trip it, and the upstream report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hakmem_verify.contract.ops import AlignedAlloc


@dataclass(frozen=True)
class KnownBug:
    name: str                   # short id, shown in reports
    lib: str                    # MallocSpec.name
    affected: Callable          # version -> bool
    check: str                  # the check it fails
    trips: Callable             # op -> bool
    reference: str              # where it is reported, and where fixed

    def applies(self, spec) -> bool:
        return spec.name == self.lib and spec.version is not None and \
            self.affected(spec.version)


KNOWN = (
    KnownBug("mimalloc-700", "mimalloc", lambda v: v <= 209, "MALLOC-02",
             lambda op: isinstance(op, AlignedAlloc) and 256 <= op.alignment <= op.size <= 1024
             and op.size & (op.size - 1) == 0,
             "microsoft/mimalloc#700: aligned_alloc(a, n) with n a power of two, 256 <= a <= n "
             "<= 1024 returns a block 128 bytes off the alignment (measured on 2.0.9: every "
             "such pair, no other; fixed in the following releases)"),
)


def known_for(spec) -> tuple:
    """The known bugs of this library's release."""
    return tuple(k for k in KNOWN if k.applies(spec))
