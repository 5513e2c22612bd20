"""A bump allocator with per-class free lists, tested black-box against the reference."""
from hakmem_verify.contract.api import (BadArgument, DoubleFree, InvalidAddress, InvalidFree, OutOfBounds, Stats,
                       size_to_class)


def check_tid(tid):
    if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
        raise BadArgument(f"tid must be an int >= 0, got {tid!r}")


class Bump:
    def __init__(self, config):
        self.config, self.sizes, n = config, config.class_sizes, config.num_classes
        self.top = config.base_address                   # next address never handed out
        self.free_lists = [[] for _ in range(n)]         # per class: freed blocks, LIFO
        self.blocks, self.live = {}, set()               # addr -> (class, bytearray); live addrs
        self.room = [None if config.max_slabs_per_class is None else     # blocks left per class
                     config.max_slabs_per_class * config.blocks_per_slab(c) for c in range(n)]
        self.allocs, self.frees = [0] * n, [0] * n

    def alloc(self, size, tid=0):
        check_tid(tid)
        c = size_to_class(size, self.sizes)
        if self.free_lists[c]:
            addr = self.free_lists[c].pop()
        elif self.room[c] == 0:
            return None                                  # out of memory
        else:
            addr = self.carve(c, size)
        self.live.add(addr)
        self.allocs[c] += 1
        return addr

    def carve(self, c, size):                            # a new block at the bump pointer
        addr = -(-self.top // self.sizes[c]) * self.sizes[c]       # aligned to its size
        self.top = addr + self.sizes[c]
        self.blocks[addr] = (c, bytearray(self.sizes[c]))
        self.room[c] = None if self.room[c] is None else self.room[c] - 1
        return addr

    def free(self, addr, tid=0):
        check_tid(tid)
        if addr not in self.blocks:
            raise InvalidFree(f"free({addr!r}): not a block start of this allocator")
        if addr not in self.live:
            raise DoubleFree(f"free({addr:#x}): the block is already free")
        c = self.blocks[addr][0]
        self.live.remove(addr)
        self.free_lists[c].append(addr)
        self.frees[c] += 1

    def usable_size(self, addr):
        if addr not in self.live:
            raise InvalidAddress(f"usable_size({addr!r}): not a live block")
        return self.sizes[self.blocks[addr][0]]

    def _span(self, addr, n):                            # (bytes, offset) of a live block
        if not isinstance(addr, int) or isinstance(addr, bool):
            raise OutOfBounds(f"{addr!r} is not an address")
        for c, size in enumerate(self.sizes):
            start = addr - addr % size
            if start in self.live and self.blocks[start][0] == c:
                if addr - start + n > size:
                    raise OutOfBounds(f"{n} bytes at {addr:#x} run past block {start:#x}")
                return self.blocks[start][1], addr - start
        raise OutOfBounds(f"{addr:#x} is not inside a live block")

    def write(self, addr, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BadArgument(f"data must be bytes, got {type(data).__name__}")
        mem, off = self._span(addr, len(data))
        mem[off:off + len(data)] = data

    def read(self, addr, n):
        if not isinstance(n, int) or isinstance(n, bool):
            raise BadArgument(f"n must be an int, got {n!r}")
        if n < 0:
            raise OutOfBounds(f"read of {n} bytes")
        mem, off = self._span(addr, n)
        return bytes(mem[off:off + n])

    def thread_exit(self, tid):                          # no per-thread state
        check_tid(tid)

    def stats(self):                                     # exact: nothing is batched
        return Stats(tuple(self.allocs), tuple(self.frees))

    exact_stats = stats

    def flush_stats(self):                               # no batches, no caches
        pass

    quiesce = flush_stats


def make(config):
    return Bump(config)
