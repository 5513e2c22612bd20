"""An implementation whose ``path_counts`` is a fresh copy at each read (not a live view)
still has its per-op path events seen by the oracle."""
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import Alloc, Free


class CopyingCounters(FastAllocator):
    path_counts = property(lambda self: dict(self.probe.view))


def test_events_are_seen_when_path_counts_is_a_copy():
    cfg = Config()
    live = Oracle(RefAllocator(cfg), FastAllocator(cfg))
    copy = Oracle(RefAllocator(cfg), CopyingCounters(cfg))
    for o in (live, copy):
        o.run([Alloc(16, 0), Alloc(16, 0), Free(0, 0), Free(1, 1)])
    assert copy.events == live.events and copy.events["new_slab"] == 1
