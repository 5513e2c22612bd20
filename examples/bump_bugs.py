"""Planted bugs in the bump allocator of ``examples/bump_alloc.py``: faults of a foreign
design that the harness must find black-box.  Each factory is an ``--impl``::

    hakmem-fuzz run --impl examples.bump_bugs:lost_free --minutes 0.5     # exits 1

``PLANTED``: factory name -> (the invariant IDs that must name it, the bug).
"""
from examples.bump_alloc import Bump, check_tid
from hakmem_verify.contract.api import Stats


class OverlappingBlocks(Bump):
    def carve(self, c, size):
        addr = super().carve(c, size)
        self.top = addr + max(8, -(-size // 8) * 8)     # advances by the size asked, not the block
        return addr


class UsableTooLarge(Bump):
    def usable_size(self, addr):
        return super().usable_size(addr) + 8            # counts an 8-byte header that is not there


class UseAfterFree(Bump):
    """FIFO free lists linked through the blocks' first 8 bytes; the tail is not cleared when
    a list empties, so the next free writes its link into a block that is live again."""

    def __init__(self, config):
        super().__init__(config)
        self.tail = [None] * config.num_classes

    def free(self, addr, tid=0):
        super().free(addr, tid)
        c = self.blocks[addr][0]
        self.free_lists[c].insert(0, self.free_lists[c].pop())    # FIFO: alloc pops the oldest
        if self.tail[c] is not None:
            self.blocks[self.tail[c]][1][:8] = addr.to_bytes(8, "little")
        self.tail[c] = addr


class LostFree(Bump):
    def free(self, addr, tid=0):
        super().free(addr, tid)
        c = self.blocks[addr][0]
        if len(self.free_lists[c]) > 2:                 # a bounded cache drops the overflow
            self.free_lists[c].pop()


class StatsDrift(Bump):
    def __init__(self, config):
        super().__init__(config)
        self.carved = [0] * config.num_classes

    def carve(self, c, size):
        self.carved[c] += 1
        return super().carve(c, size)

    def stats(self):                                    # reports blocks carved, not allocs
        return Stats(tuple(self.carved), tuple(self.frees))


class RaisesOnValidOp(Bump):
    def __init__(self, config):
        super().__init__(config)
        self.threads = set()

    def alloc(self, size, tid=0):
        addr = super().alloc(size, tid)
        self.threads.add(tid)
        return addr

    def thread_exit(self, tid):                         # KeyError for a tid that never allocated
        check_tid(tid)
        self.threads.remove(tid)


class ExactStatsRaise(Bump):
    def exact_stats(self):                              # IndexError after the fourth free
        if sum(self.frees) > 3:
            raise IndexError("pending batch index out of range")
        return super().exact_stats()


class DeepCounterWrap(Bump):
    """Counts each class's allocations in windows of 3,000; the first allocation of a new
    window hands out the class's previous block again, still live (the wrap path returns
    a stale pointer).  Nothing goes wrong before the 3,001st allocation of one class: a
    short history never sees it."""

    WINDOW = 3000

    def __init__(self, config):
        super().__init__(config)
        self.recent = [None] * config.num_classes     # the block last handed out, per class

    def alloc(self, size, tid=0):
        addr = super().alloc(size, tid)
        if addr is None:
            return None
        c = self.blocks[addr][0]
        stale = self.recent[c]
        if self.allocs[c] % self.WINDOW == 1 and stale in self.live and stale != addr:
            self.live.discard(addr)                     # the new block goes back ...
            self.free_lists[c].append(addr)
            return stale                                # ... and a live one is handed out
        self.recent[c] = addr
        return addr


def _factory(cls):
    def make(config):
        return cls(config)
    make.__name__ = make.__qualname__ = cls.__name__
    return make


overlapping_blocks = _factory(OverlappingBlocks)
usable_too_large = _factory(UsableTooLarge)
use_after_free = _factory(UseAfterFree)
lost_free = _factory(LostFree)
stats_drift = _factory(StatsDrift)
raises_on_valid_op = _factory(RaisesOnValidOp)
exact_stats_raise = _factory(ExactStatsRaise)
deep_counter_wrap = _factory(DeepCounterWrap)

PLANTED = {
    "overlapping_blocks": (("LIVE-03",), "a new block starts inside a live one"),
    "usable_too_large": (("LOCK-02",), "usable_size() is 8 bytes more than the block"),
    "use_after_free": (("DATA-01",), "a free writes into a block that is live again"),
    "lost_free": (("OOM-02",), "frees beyond 2 per class are never reusable"),
    "stats_drift": (("STAT-01", "STAT-03"), "reported allocs miss every reused block"),
    "raises_on_valid_op": (("LOCK-03",), "thread_exit of a tid with no state raises KeyError"),
    "exact_stats_raise": (("LOCK-03",), "exact_stats() raises IndexError"),
}

#: planted bugs only a deep history reaches (``--machine deep``: thousands of ops of one
#: class per example); the short machines of PLANTED's hunt do not
DEEP = {
    "deep_counter_wrap": (("LIVE-02",), "the 3,001st allocation of a class hands out a "
                                        "live block again"),
}
