"""Three allocators that differ from the reference, each declaring how
(``hakmem_verify.contract.api.Capabilities``, the factory's ``capabilities`` attribute), so the harness
tests them on their own terms:

* ``round16``: every request rounded up to a multiple of 16 bytes (usable sizes 16, 32,
  48, ..., 256): its own classes, whatever classes the Config names;
* ``pow2``: power-of-two classes from 16 to 1024, no 8-byte class;
* ``trusting``: the seed's classes, but a free, read or write is not checked: a double,
  interior or foreign free, or an access past a block, is undefined behaviour, as for
  C's ``free`` and ``memcpy``.

Each runs clean::

    hakmem-fuzz run --impl examples.foreign_alloc:round16 --minutes 0.5     # exits 0

``PLANTED``: factory name -> (the invariant IDs that must name it, the bug); each
planted factory declares the same capabilities as its clean one.
"""
from examples.bump_alloc import Bump, check_tid
from hakmem_verify.contract.api import Capabilities


class FixedClasses(Bump):
    """A bump allocator with its own size classes (``CAPS.class_sizes``): the Config's
    other knobs (its memory limit) apply, its classes do not."""

    CAPS = Capabilities()

    def __init__(self, config):
        super().__init__(self.CAPS.adopt(config))
        self.config = config                    # the Config it was given


class Round16(FixedClasses):
    CAPS = Capabilities(class_sizes=tuple(range(16, 257, 16)))


class Pow2(FixedClasses):
    CAPS = Capabilities(class_sizes=(16, 32, 64, 128, 256, 512, 1024))


class Trusting(Bump):
    """Frees and accesses are trusted: no lookup of the block's state, no bounds."""

    CAPS = Capabilities(detects_invalid_frees=False, bounds_checked=False)

    def free(self, addr, tid=0):
        check_tid(tid)
        c = self.blocks[addr][0]                # whatever addr is: the caller promised
        self.live.discard(addr)
        self.free_lists[c].append(addr)
        self.frees[c] += 1

    def _span(self, addr, n):
        for c, size in enumerate(self.sizes):   # the block addr falls in, no end check
            start = addr - addr % size
            if start in self.blocks and self.blocks[start][0] == c:
                return self.blocks[start][1], addr - start
        raise KeyError(addr)                    # not a block at all: undefined behaviour


# ---- planted bugs ---------------------------------------------------------------------


def _int_in(size, lo, hi) -> bool:
    return type(size) is int and lo <= size <= hi


class Round16Short(Round16):
    """Rounds with ``(size + 8) // 16 * 16``: 17..23 bytes get a 16-byte block."""

    def alloc(self, size, tid=0):
        return super().alloc((size + 8) // 16 * 16 if _int_in(size, 17, 256) else size, tid)


class Pow2ExactNext(Pow2):
    """The class index from ``size.bit_length()``, not ``(size - 1).bit_length()``: an
    exact power of two takes the next class (16 bytes get a 32-byte block)."""

    def alloc(self, size, tid=0):
        exact = _int_in(size, 1, 512) and size & (size - 1) == 0
        return super().alloc(max(size + 1, 17) if exact else size, tid)


class TrustingBatchEdge(Trusting):
    """A free onto an empty free list pushes the block twice (the list's empty case
    handled twice): the block is handed out twice."""

    def free(self, addr, tid=0):
        super().free(addr, tid)
        c = self.blocks[addr][0]
        if len(self.free_lists[c]) == 1:
            self.free_lists[c].append(addr)


def _factory(cls, name):
    def make(config):
        return cls(config)
    make.__name__ = make.__qualname__ = name
    make.capabilities = cls.CAPS
    return make


round16 = _factory(Round16, "round16")
pow2 = _factory(Pow2, "pow2")
trusting = _factory(Trusting, "trusting")
round16_short = _factory(Round16Short, "round16_short")
pow2_exact_next = _factory(Pow2ExactNext, "pow2_exact_next")
trusting_batch_edge = _factory(TrustingBatchEdge, "trusting_batch_edge")

#: the clean factories, each with its planted bug
CLEAN = {"round16": "round16_short", "pow2": "pow2_exact_next",
         "trusting": "trusting_batch_edge"}

PLANTED = {
    "round16_short": (("LOCK-02",), "17..23 bytes get a 16-byte block"),
    "pow2_exact_next": (("LOCK-02",), "an exact power of two takes the next class"),
    "trusting_batch_edge": (("LIVE-02",), "a free onto an empty list pushes the block "
                                          "twice: handed out twice"),
}
