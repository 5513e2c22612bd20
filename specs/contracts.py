"""Contracts of the tiny pool's data plane, checkable by CrossHair.

The seed design's data plane is a handful of small state machines: the
two-tier bitmap (``find_free`` / ``set_used`` / ``set_free`` with summary
words and a hint word), the page mini-magazine (an intrusive LIFO whose
``next`` pointers live in the free blocks), batch refill (bitmap ->
mini-magazine) and spill (mini-magazine -> bitmap), the size-class mapping,
and the batched statistics counters.  Each carries PEP 316 docstring
contracts: the class invariants (``inv:``) are the state invariants of the
catalogue (IDs as in ``specs/invariants.py``), and each operation states
what it returns and how it changes the state (``pre:`` / ``post:``).
``crosshair check specs/contracts.py`` searches the paths of every
operation, from every state the invariants allow, for a counterexample; the
command, its budget and its results are in ``specs/CONTRACTS.md``.

Two kinds of contract, and how each is tied to the model (``hakmem_fast``):

* **On the model's code.**  ``size_to_class`` and ``StatCounters`` call the
  model's own functions (``specs.api.size_to_class``,
  ``hakmem_fast.ops.stats_*``); CrossHair checks that code itself.
* **On a restatement, with a differential test.**  The bitmap, the
  mini-magazine and refill/spill are restated here: the model's bit
  operations and its byte-array memory make CrossHair pick concrete values.
  ``tests/contracts/test_contracts_agree_with_model.py`` and
  ``test_data_plane_agrees_with_model.py`` run the same operation sequences
  on the restatement and on the model and compare every observable;
  ``tests/contracts/test_every_contract_is_tied_to_the_model.py`` fails for
  a contract tied to the model neither way.

CrossHair reasons about integers, not bit-vectors: ``|``, ``^`` and
``x & -x`` make it pick concrete values.  So the restated bit logic is
arithmetic (bit ``b`` of ``word`` is ``word // 2**b % 2``, setting it is
``word + 2**b``, clearing it ``word - 2**b``) and the word width is a
parameter: the constructors' preconditions bound the geometry CrossHair
explores (the ``CHECK_*`` knobs below) while the same functions run at
64-bit words in the differential tests.

CrossHair builds every ``self`` through the class's constructor, so the
constructors are state generators.  The bitmap's and the counters' map *any*
raw input onto a valid state and are the identity on a valid one (summary
and free_count are derived from the words, padding bits and the words below
the hint are forced used, counts are made non-negative), so no path is
spent on a state the invariants reject; the mini-magazine's and the slab's
state what they need (distinct blocks, cached blocks marked used) as
preconditions.  Either way each operation is checked from every valid state
of the bounded geometry, not only from the states a short operation
sequence reaches.  Conditions are sums and single comparisons rather than a
branch per bit, so a path forks only where the operation itself does.

The methods carry the contracts; the restated cores they run are module
functions (``_find_free``, ``_push``, ...) that refill and spill call
directly, so each contract is checked on its own (CrossHair enforces a
callee's contract on every nested call to a contracted method).

Each ``inv:`` line is one line of text (``invariants_hold`` and ``check``
evaluate the very same lines at run time, at any geometry).  Nothing here
imports ``hakmem_ref``.
"""
from __future__ import annotations

from hakmem_fast import ops as model_ops
from specs import api

NULL = 0  # end of an intrusive list; no block lives at address 0

# ---- the seed's size classes: 8, 16, ..., 1024 bytes (class 0..7) ---------
CLASS_SIZES = api.SEED_CLASS_SIZES
MIN_CLASS_SIZE = CLASS_SIZES[0]
NUM_CLASSES = len(CLASS_SIZES)

# ---- the state space CrossHair explores (the model runs at 64-bit words) ----
CHECK_WORD_BITS = 2        # bitmap word width when checked
CHECK_MAX_WORDS = 3        # at most 3 words of 2 bits: two summary words, the 2nd partial
CHECK_MAX_CAPACITY = 3     # largest mini-magazine capacity
CHECK_SLAB_WORDS = 2       # a Slab (bitmap + mini-magazine) has at most 2 words,
CHECK_SLAB_CAPACITY = 2    # ... a mini-magazine of capacity <= 2
CHECK_SLAB_CLASSES = (1,)  # ... and 16-byte blocks
CHECK_MAX_THREADS = 3      # most threads with a pending stat batch
CHECK_MAX_SIZE = CLASS_SIZES[-1] + 1  # sizes up to one past the largest class (see size_to_class)


# ============================================================================
# Bit arithmetic (no bitwise operators: CrossHair keeps these symbolic)
# ============================================================================


def _bit(word: int, b: int) -> int:
    """Bit ``b`` of a non-negative ``word`` (1 = used)."""
    return word // 2 ** b % 2


def _full(word_bits: int) -> int:
    """The word with every bit used."""
    return 2 ** word_bits - 1


def _has_free(word: int, word_bits: int) -> int:
    """1 if ``0 <= word <= full`` has a free (0) bit, else 0, without a branch."""
    return 1 - word // _full(word_bits)


def _free_bits(word: int, word_bits: int) -> int:
    """Number of free (0) bits of a word."""
    return word_bits - sum(_bit(word, b) for b in range(word_bits))


def _summary_of(words: list, word_bits: int) -> list:
    """The summary words ``words`` call for: bit w set iff word w has a free bit."""
    nsum = -(-len(words) // word_bits)
    return [sum(2 ** j * _has_free(words[k * word_bits + j], word_bits)
                for j in range(min(word_bits, len(words) - k * word_bits)))
            for k in range(nsum)]


def is_free(bm: "TwoTierBitmap", idx: int) -> bool:
    """Whether block ``idx`` is bitmap-free. O(1)."""
    return _bit(bm.words[idx // bm.word_bits], idx % bm.word_bits) == 0


def _free_below(bm: "TwoTierBitmap", idx: int) -> int:
    """Number of free blocks with an index below ``idx``."""
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    return (sum(_free_bits(bm.words[v], wb) for v in range(w))
            + b - sum(_bit(bm.words[w], c) for c in range(b)))


def _well_formed(bm: "TwoTierBitmap") -> bool:
    """nwords == ceil(nblocks / word_bits) == len(words); every word in 0..full."""
    return (bm.nwords == len(bm.words) >= 1
            and (bm.nwords - 1) * bm.word_bits < bm.nblocks <= bm.nwords * bm.word_bits
            and all(0 <= x <= _full(bm.word_bits) for x in bm.words))


def _used_padding_bits(bm: "TwoTierBitmap") -> int:
    """How many of the last word's bits past ``nblocks`` are used."""
    first_pad = bm.nblocks - (bm.nwords - 1) * bm.word_bits
    return sum(_bit(bm.words[-1], b) for b in range(first_pad, bm.word_bits))


def _words_with_free_bits_below(bm: "TwoTierBitmap", w: int) -> int:
    """How many words below word ``w`` have a free bit (``[v < w]`` is a 0/1
    factor, so the hint is not forced to a concrete value)."""
    return sum(_has_free(bm.words[v], bm.word_bits) * (v < w) for v in range(bm.nwords))


def _one_bit_changed(new: list, old: list, idx: int, word_bits: int, to: int) -> bool:
    """``new`` is ``old`` with bit ``idx`` turned from ``1 - to`` into ``to``."""
    w, b = idx // word_bits, idx % word_bits
    delta = 2 ** b if to == 1 else -2 ** b
    return (len(new) == len(old) and _bit(old[w], b) == 1 - to and new[w] == old[w] + delta
            and all(new[v] == old[v] for v in range(len(old)) if v != w))


# ============================================================================
# Two-tier bitmap
# ============================================================================


class TwoTierBitmap:
    """Bitmap words, summary words and hint word of one slab (bit = 1: used).

    Block ``i`` is bit ``i % word_bits`` of ``words[i // word_bits]``; the
    bits past ``nblocks`` in the last word are padding and stay used.

        nwords == ceil(nblocks / word_bits) == len(words); 0 <= word <= full  [SLAB-01]
        padding bits (index >= nblocks) == 1                                 [SLAB-02]
        free_count == number of 0 bits in words                              [SLAB-03]
        summary bit w == 1  <=>  words[w] has a 0 bit                        [SUM-01]
        0 <= hint_word < nwords; every word below hint_word is full          [SUM-02]

    inv: _well_formed(self) and _used_padding_bits(self) == self.nwords * self.word_bits - self.nblocks  # SLAB-01, SLAB-02
    inv: self.free_count == sum(_free_bits(x, self.word_bits) for x in self.words)  # SLAB-03
    inv: self.summary == _summary_of(self.words, self.word_bits)  # SUM-01
    inv: 0 <= self.hint_word < self.nwords and _words_with_free_bits_below(self, self.hint_word) == 0  # SUM-02
    """

    def __init__(self, nblocks: int, word_bits: int, words: list[int], hint_word: int = 0):
        """A valid bitmap made of raw input (the identity on a valid state).

        ``nblocks`` is brought into the last word, each word into range,
        the padding bits and the words below ``hint_word`` are set used;
        summary and free_count are derived.  The preconditions bound the
        geometry CrossHair explores; :func:`fresh_bitmap` builds bitmaps of
        any geometry (the model's 64-bit words included).

        pre: word_bits == CHECK_WORD_BITS and 1 <= len(words) <= CHECK_MAX_WORDS
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        nwords = len(words)
        full = _full(word_bits)
        pad = (nwords * word_bits - nblocks) % word_bits      # padding bits, < word_bits
        hint_word %= nwords
        # words below the hint are full (no branch on the hint: [w < h] is a 0/1 factor)
        words = [words[w] % (full + 1) for w in range(nwords)]
        words = [x + (full - x) * (w < hint_word) for w, x in enumerate(words)]
        low = 2 ** (word_bits - pad)                          # the last word's real blocks
        words[-1] = words[-1] % low + (full + 1 - low)        # padding bits: used
        _load(self, nwords * word_bits - pad, word_bits, words, hint_word)

    def __repr__(self):
        return (f"TwoTierBitmap(nblocks={self.nblocks}, word_bits={self.word_bits}, "
                f"words={self.words!r}, hint_word={self.hint_word})")

    def find_free(self) -> int:
        """Index of the lowest free block at or after the hint word, or -1.

        Moves ``hint_word`` to the word found and changes nothing else.
        Cost: O(nwords) summary bits and one word.

        post: self.words == __old__.self.words and self.summary == __old__.self.summary and self.free_count == __old__.self.free_count
        post: (__return__ == -1) == (self.free_count == 0) and (__return__ == -1 or (0 <= __return__ < self.nblocks and is_free(self, __return__) and _free_below(self, __return__) == 0))
        post: self.hint_word == (__old__.self.hint_word if __return__ == -1 else __return__ // self.word_bits)
        """
        return _find_free(self)

    def set_used(self, idx: int) -> None:
        """Mark free block ``idx`` used; clear its summary bit if its word fills. O(1).

        pre: 0 <= idx < self.nblocks and is_free(self, idx)
        post: _one_bit_changed(self.words, __old__.self.words, idx, self.word_bits, 1)
        post: self.free_count == __old__.self.free_count - 1 and self.hint_word == __old__.self.hint_word
        """
        _set_used(self, idx)

    def set_free(self, idx: int) -> None:
        """Mark used block ``idx`` free; set its summary bit; lower the hint to its word. O(1).

        pre: 0 <= idx < self.nblocks and not is_free(self, idx)
        post: _one_bit_changed(self.words, __old__.self.words, idx, self.word_bits, 0)
        post: self.free_count == __old__.self.free_count + 1 and self.hint_word == min(__old__.self.hint_word, idx // self.word_bits)
        """
        _set_free(self, idx)


def _load(bm: TwoTierBitmap, nblocks: int, word_bits: int, words: list, hint_word: int):
    bm.nblocks = nblocks                           # blocks in the slab
    bm.word_bits = word_bits                       # bits per word
    bm.nwords = len(words)                         # bitmap words
    bm.words = words                               # bit = 1: used
    bm.summary = _summary_of(words, word_bits)     # bit w: words[w] has a free bit
    bm.hint_word = hint_word                       # scan start (lower bound)
    bm.free_count = sum(_free_bits(x, word_bits) for x in words)  # bitmap-free blocks


def fresh_bitmap(nblocks: int, word_bits: int = 64) -> TwoTierBitmap:
    """A bitmap of any geometry with every block free (padding bits used)."""
    nwords = -(-nblocks // word_bits)
    pad = nwords * word_bits - nblocks
    words = [0] * nwords
    words[-1] = _full(word_bits) - _full(word_bits - pad)   # the top ``pad`` bits
    bm = TwoTierBitmap.__new__(TwoTierBitmap)
    _load(bm, nblocks, word_bits, words, 0)
    return bm


def _find_free(bm: TwoTierBitmap) -> int:
    wb = bm.word_bits
    for w in range(bm.hint_word, bm.nwords):          # summary bits from the hint up
        if _bit(bm.summary[w // wb], w % wb) == 1:
            word = bm.words[w]
            for b in range(wb):                       # the lowest free bit of the word
                if _bit(word, b) == 0:
                    bm.hint_word = w
                    return w * wb + b
    return -1


def _set_used(bm: TwoTierBitmap, idx: int) -> None:
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    bm.words[w] += 2 ** b
    bm.free_count -= 1
    if bm.words[w] == _full(wb):                      # the word filled up
        bm.summary[w // wb] -= 2 ** (w % wb)


def _set_free(bm: TwoTierBitmap, idx: int) -> None:
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    if bm.words[w] == _full(wb):                      # the word gains its first free bit
        bm.summary[w // wb] += 2 ** (w % wb)
    bm.words[w] -= 2 ** b
    bm.free_count += 1
    if w < bm.hint_word:
        bm.hint_word = w


# ============================================================================
# Page mini-magazine over an abstract memory
# ============================================================================


def _walk(mem: dict, head: int, bound: int):
    """Addresses of the list from ``head`` (head first), or None when the walk
    does not reach NULL within ``bound`` steps (a cycle) or meets an address
    that holds no next pointer."""
    out = []
    a = head
    while a != NULL:
        if len(out) == bound or a not in mem:
            return None
        out.append(a)
        a = mem[a]
    return out


def mini_mag_blocks(mag: "MiniMag") -> list:
    """The blocks of a mini-magazine, head first (None if the list is broken)."""
    return _walk(mag.mem, mag.head, mag.capacity)


class MiniMag:
    """Page mini-magazine: an intrusive LIFO of free blocks with count and capacity.

    ``mem`` is the memory the list lives in, as block address -> the block's
    first word: its ``next`` pointer while the block is in the list.

        0 <= count <= capacity                                              [MM-01]
        the list from head holds exactly count blocks: non-NULL, distinct,
        NULL-terminated (so acyclic)                                        [MM-01, MM-02]

    inv: 1 <= self.capacity and 0 <= self.count <= self.capacity  # MM-01
    inv: mini_mag_blocks(self) is not None and len(mini_mag_blocks(self)) == self.count  # MM-01, MM-02
    """

    def __init__(self, capacity: int, blocks: list[int], mem: dict[int, int]):
        """A mini-magazine holding ``blocks`` (head first) in memory ``mem``,
        into which their next pointers are written.

        ``mem`` is taken, not made here: storing a symbolic address in a
        dict made here would hash it, and hashing makes CrossHair pick a
        concrete address; the dict CrossHair passes in stays symbolic.

        pre: 1 <= capacity <= CHECK_MAX_CAPACITY and len(blocks) <= capacity
        pre: all(a > 0 for a in blocks)
        pre: all(blocks[i] != blocks[j] for i in range(len(blocks)) for j in range(i))
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        self.capacity = capacity     # max items (seed: 16, up to 32)
        self.count = len(blocks)     # current item count
        self.mem = mem               # block address -> first word
        for a, nxt in zip(blocks, blocks[1:] + [NULL]):
            self.mem[a] = nxt
        self.head = blocks[0] if blocks else NULL   # LIFO stack head

    def __repr__(self):
        return f"MiniMag(capacity={self.capacity}, blocks={mini_mag_blocks(self)!r})"

    def pop(self) -> int:
        """Fast path: unlink the head block and return it; NULL when empty. O(1).

        post: __return__ == (mini_mag_blocks(__old__.self)[0] if __old__.self.count > 0 else NULL)
        post: mini_mag_blocks(self) == mini_mag_blocks(__old__.self)[1:]
        post: all(self.mem[a] == __old__.self.mem[a] for a in mini_mag_blocks(__old__.self))
        """
        return _pop(self)

    def push(self, addr: int) -> bool:
        """Fast path: push free block ``addr``; False, changing nothing, when full. O(1).

        pre: addr > 0 and addr not in mini_mag_blocks(self)
        post: __return__ == (__old__.self.count < self.capacity)
        post: mini_mag_blocks(self) == ([addr] if __return__ else []) + mini_mag_blocks(__old__.self)
        post: all(self.mem[a] == __old__.self.mem[a] for a in mini_mag_blocks(__old__.self))
        """
        return _push(self, addr)


def _pop(mag: MiniMag) -> int:
    b = mag.head
    if b == NULL:
        return NULL
    mag.head = mag.mem[b]
    mag.count -= 1
    return b


def _push(mag: MiniMag, addr: int) -> bool:
    if mag.count >= mag.capacity:
        return False
    mag.mem[addr] = mag.head
    mag.head = addr
    mag.count += 1
    return True


# ============================================================================
# Slab: bitmap + mini-magazine; batch refill and spill
# ============================================================================


def _index_of(slab: "Slab", addr: int) -> int:
    """Block index of ``addr`` in the slab, or -1 if it is not a block start."""
    off = addr - slab.base
    if off < 0 or off % slab.block_size != 0 or off // slab.block_size >= slab.bitmap.nblocks:
        return -1
    return off // slab.block_size


def _whereabouts(slab: "Slab") -> list:
    """Per block: 1 if bitmap-free + number of times it is in the mini-magazine.

    Every block that is not live is in exactly one of the two places, so a
    refill or a spill must leave this list unchanged: a block lost by the
    move shows as a 0, a block handed out twice as a 2.
    """
    cached = mini_mag_blocks(slab.mini_mag)
    return [(1 - _bit(slab.bitmap.words[i // slab.bitmap.word_bits],
                      i % slab.bitmap.word_bits))
            + sum(a == slab.base + i * slab.block_size for a in cached)
            for i in range(slab.bitmap.nblocks)]


class Slab:
    """The part of a TinySlab that batch refill and spill touch.

    Block ``i`` lives at ``base + i * block_size``; the mini-magazine holds
    blocks of this slab that the bitmap marks used (they are free for the
    allocator, but not bitmap-free).

        the bitmap and the mini-magazine satisfy their invariants
        every mini-magazine block is a block start of this slab, bitmap-used  [MM-02]

    inv: invariants_hold(self.bitmap) and invariants_hold(self.mini_mag)
    inv: all(_index_of(self, a) >= 0 and not is_free(self.bitmap, _index_of(self, a)) for a in mini_mag_blocks(self.mini_mag))  # MM-02
    """

    def __init__(self, bitmap: TwoTierBitmap, cached: list[int], capacity: int,
                 class_idx: int, base: int, mem: dict[int, int]):
        """A slab of ``class_idx`` at ``base`` whose mini-magazine holds the
        blocks of indices ``cached`` (head first), marked used in ``bitmap``.

        pre: bitmap.nwords <= CHECK_SLAB_WORDS and 1 <= capacity <= CHECK_SLAB_CAPACITY
        pre: class_idx in CHECK_SLAB_CLASSES and base > 0
        pre: len(cached) <= capacity
        pre: all(0 <= i < bitmap.nblocks and not is_free(bitmap, i) for i in cached)
        pre: all(cached[i] != cached[j] for i in range(len(cached)) for j in range(i))
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        self.class_idx = class_idx                 # size class
        self.block_size = CLASS_SIZES[class_idx]   # bytes per block
        self.base = base                           # address of block 0
        self.bitmap = bitmap                       # bit = 1: used (live or cached)
        self.mini_mag = MiniMag(capacity, [base + i * self.block_size for i in cached], mem)

    def __repr__(self):
        return (f"Slab({self.bitmap!r}, mini_mag={mini_mag_blocks(self.mini_mag)!r} "
                f"cap {self.mini_mag.capacity}, class_idx={self.class_idx}, "
                f"base={self.base})")

    def batch_refill(self, want: int) -> int:
        """Move up to ``want`` bitmap-free blocks into the mini-magazine; return how many.

        Room is checked before a block is marked used, so every block taken
        from the bitmap is pushed (the seed's sample marks first and loses
        the block when the push fails).  Cost: O(got) finds.

        post: __return__ == max(0, min(want, __old__.self.mini_mag.capacity - __old__.self.mini_mag.count, __old__.self.bitmap.free_count))
        post: self.bitmap.free_count == __old__.self.bitmap.free_count - __return__ and self.mini_mag.count == __old__.self.mini_mag.count + __return__
        post: _whereabouts(self) == _whereabouts(__old__.self)  # REF-01: no block lost or doubled
        """
        bm, mag = self.bitmap, self.mini_mag
        got = 0
        while got < want and mag.count < mag.capacity:     # room first
            idx = _find_free(bm)
            if idx < 0:
                break
            _set_used(bm, idx)
            _push(mag, self.base + idx * self.block_size)  # cannot fail: there is room
            got += 1
        return got

    def spill(self) -> int:
        """Slow path: return every mini-magazine block to the bitmap (on eviction).

        Returns how many; the walk is bounded by the capacity.

        post: __return__ == __old__.self.mini_mag.count and self.mini_mag.count == 0 and self.mini_mag.head == NULL
        post: self.bitmap.free_count == __old__.self.bitmap.free_count + __return__
        post: _whereabouts(self) == _whereabouts(__old__.self)  # SPL-01: no block lost or doubled
        """
        bm, mag = self.bitmap, self.mini_mag
        n = 0
        for _ in range(mag.capacity):
            if mag.count == 0:
                break
            addr = _pop(mag)
            _set_free(bm, (addr - self.base) // self.block_size)
            n += 1
        return n


# ============================================================================
# Size classes: the model's own function
# ============================================================================


def size_to_class(size: int) -> int:
    """The model's class of a request of ``size`` bytes (``specs.api.size_to_class``).

    The contract is on the model's code itself: this calls it, and turns its
    refusal of a size above the largest class (``SizeError``) into -1.  Size
    0 is class 0 (a minimum block).  Cost: O(classes).

    CrossHair explores sizes up to one past the largest class: the model
    formats the refused size into the SizeError message, which makes a
    symbolic size concrete, one path per size.  The tests run the same
    conditions on every size (``tests/contracts/test_model_meets_contracts.py``).

    pre: size >= 0
    pre: size <= CHECK_MAX_SIZE  # the sizes CrossHair explores
    post: (__return__ == -1) == (size > CLASS_SIZES[-1])
    post: __return__ == -1 or (0 <= __return__ < NUM_CLASSES and size <= CLASS_SIZES[__return__])
    post: __return__ <= 0 or CLASS_SIZES[__return__ - 1] < size
    """
    try:
        return api.size_to_class(size)
    except api.SizeError:
        return -1


# ============================================================================
# Statistics: the model's own functions on per-thread batches and global counters
# ============================================================================


def _replaced(values: list, i: int, value: int) -> list:
    """A copy of ``values`` with ``values[i]`` replaced by ``value``."""
    return [value if j == i else x for j, x in enumerate(values)]


def _replaced_at(rows: list, t: int, c: int, value: int) -> list:
    """A copy of the table ``rows`` with ``rows[t][c]`` replaced by ``value``."""
    return [_replaced(row, c, value) if u == t else row for u, row in enumerate(rows)]


class StatCounters:
    """The batched counters of one event kind (allocs or frees), run by the model.

    ``batches[t][c]`` is thread ``t``'s pending count of class ``c`` (the
    seed's ``t_alloc_batch``), ``flushed[c]`` the global counter
    (``g_alloc_count``); ``exact[c]`` is the true count, kept by the harness.
    Every method calls the model's function (``hakmem_fast.ops.stats_*``) on
    this state, so the contract is checked on the model's code itself.

        flushed[c] + sum over threads t of batches[t][c] == exact[c]    [STAT-01]
        batches[t][c] >= 0
        after flush_if_needed(t, c): batches[t][c] < interval            [STAT-02]

    STAT-02 is a promise of ``flush_if_needed``, not a class invariant: the
    model's ``stats_record_*`` only counts, and the allocator keeps the bound
    by checking after every record.

    inv: self.interval >= 1 and all(len(row) == len(self.flushed) == len(self.exact) for row in self.batches) and all(p >= 0 for row in self.batches for p in row)
    inv: all(self.flushed[c] + sum(row[c] for row in self.batches) == self.exact[c] for c in range(len(self.exact)))  # STAT-01
    """

    def __init__(self, interval: int, batches: list[tuple[int, int]], flushed: tuple[int, int]):
        """Counters with ``batches[t][c]`` pending and ``flushed[c]`` flushed events.

        CrossHair builds two classes (the annotation; a length would be one
        more branch per row); the tests build the seed's eight.

        pre: interval >= 1 and 1 <= len(batches) <= CHECK_MAX_THREADS
        pre: all(p >= 0 for row in batches for p in row) and all(f >= 0 for f in flushed)
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        self.interval = interval                        # events per batch (seed: 256)
        self.batches = [list(row) for row in batches]   # per thread and class: pending
        self.flushed = list(flushed)                    # global counters, per class
        self.exact = [f + sum(row[c] for row in self.batches)
                      for c, f in enumerate(self.flushed)]   # true counts (the harness's)

    def __repr__(self):
        return (f"StatCounters(interval={self.interval}, batches={self.batches!r}, "
                f"flushed={self.flushed!r})")

    def record_alloc(self, tid: int, c: int) -> None:
        """Fast path: count one alloc of class ``c`` in ``tid``'s batch; nothing is flushed. O(1).

        pre: 0 <= tid < len(self.batches) and 0 <= c < len(self.flushed)
        post: self.batches == _replaced_at(__old__.self.batches, tid, c, __old__.self.batches[tid][c] + 1) and self.flushed == __old__.self.flushed
        """
        self.exact[c] += 1
        model_ops.stats_record_alloc(self.batches[tid], c)

    def record_free(self, tid: int, c: int) -> None:
        """Fast path: count one free of class ``c`` in ``tid``'s batch; nothing is flushed. O(1).

        pre: 0 <= tid < len(self.batches) and 0 <= c < len(self.flushed)
        post: self.batches == _replaced_at(__old__.self.batches, tid, c, __old__.self.batches[tid][c] + 1) and self.flushed == __old__.self.flushed
        """
        self.exact[c] += 1
        model_ops.stats_record_free(self.batches[tid], c)

    def flush_if_needed(self, tid: int, c: int) -> bool:
        """Flush ``tid``'s whole batch of class ``c`` when it holds ``interval`` events
        or more; True if it flushed. O(1).

        pre: 0 <= tid < len(self.batches) and 0 <= c < len(self.flushed)
        post: __return__ == (__old__.self.batches[tid][c] >= self.interval)
        post: self.flushed == _replaced(__old__.self.flushed, c, __old__.self.flushed[c] + (__old__.self.batches[tid][c] if __return__ else 0)) and self.batches == _replaced_at(__old__.self.batches, tid, c, 0 if __return__ else __old__.self.batches[tid][c])
        post: self.batches[tid][c] < self.interval  # STAT-02
        """
        return model_ops.stats_flush_if_needed(self.batches[tid], self.flushed, c, self.interval)

    def flush_all(self, tid: int) -> None:
        """Slow path (thread exit, flush_stats): add every class of ``tid``'s batch to
        the global counters and empty the batch. O(classes).

        pre: 0 <= tid < len(self.batches)
        post: self.flushed == [f + p for f, p in zip(__old__.self.flushed, __old__.self.batches[tid])]
        post: self.batches == [[0] * len(row) if t == tid else row for t, row in enumerate(__old__.self.batches)]
        """
        model_ops.stats_flush_all(self.batches[tid], self.flushed)


# ============================================================================
# Run-time checks: the inv: lines above, evaluated at any geometry
# ============================================================================


def _compiled_invariants(cls) -> list:
    out = []
    for line in (cls.__doc__ or "").splitlines():
        line = line.strip()
        if line.startswith("inv:"):
            src = line[len("inv:"):].strip()
            code = compile(f"lambda self: ({src}\n)", f"<inv of {cls.__name__}>", "eval")
            out.append((src, eval(code, globals())))
    return out


_INVARIANTS = {cls: _compiled_invariants(cls)
               for cls in (TwoTierBitmap, MiniMag, Slab, StatCounters)}


def _invariants_of(cls) -> list:
    """The inv: lines of ``cls`` and of its bases (as CrossHair applies them)."""
    return [inv for c in cls.__mro__ for inv in _INVARIANTS.get(c, ())]


def invariants_hold(obj) -> bool:
    """Whether every ``inv:`` line of ``obj``'s class holds."""
    return all(holds(obj) for _, holds in _invariants_of(type(obj)))


def _dump(obj) -> str:
    """The structure's fields, bitmap words in hex, for a failure message."""
    rows = []
    for k, v in vars(obj).items():
        if k in ("words", "summary"):
            v = "[" + ", ".join(hex(x) for x in v) + "]"
        elif isinstance(v, MiniMag):
            v = f"{mini_mag_blocks(v)!r} (count {v.count}, capacity {v.capacity})"
        elif isinstance(v, TwoTierBitmap):
            v = "\n    " + _dump(v).replace("\n", "\n    ")
        rows.append(f"  {k} = {v}")
    return "\n".join(rows)


def check(obj) -> None:
    """Raise AssertionError naming the first ``inv:`` line of ``obj``'s class
    that does not hold, with the structure dumped."""
    for src, holds in _invariants_of(type(obj)):
        if not holds(obj):
            raise AssertionError(f"{type(obj).__name__}: invariant does not hold: {src}\n"
                                 f"{_dump(obj)}")
