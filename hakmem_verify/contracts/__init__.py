"""Contracts of the tiny pool's data plane, checkable by CrossHair.

The seed design's data plane is a handful of small state machines: the
two-tier bitmap (``find_free`` / ``set_used`` / ``set_free`` with summary
words and a hint word), the page mini-magazine (an intrusive LIFO whose
``next`` pointers live in the free blocks), batch refill (bitmap ->
mini-magazine) and spill (mini-magazine -> bitmap), the size-class mapping,
and the batched statistics counters.  Each carries PEP 316 docstring
contracts: the class invariants (``inv:``) are the state invariants of the
catalogue (IDs as in ``hakmem_verify/check/``), and each operation states
what it returns and how it changes the state (``pre:`` / ``post:``).
``crosshair check hakmem_verify/contracts/bitmap.py hakmem_verify/contracts/minimag.py
hakmem_verify/contracts/counters.py`` searches the paths of every operation, from every
state the invariants allow, for a counterexample; the command, its budget and its
results are in ``docs/CONTRACTS.md``.

Two kinds of contract, and how each is tied to the model (``hakmem_verify.models.fast``):

* **On the model's code.**  ``size_to_class`` and ``StatCounters`` call the
  model's own functions (``hakmem_verify.contract.api.size_to_class``,
  ``hakmem_verify.models.fast.core.stats_*``); CrossHair checks that code itself.
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
imports ``hakmem_verify.models.ref``.

The modules: ``common`` (size classes, CrossHair's bounds, bit arithmetic),
``bitmap``, ``minimag`` (the mini-magazine and the slab's refill and spill),
``counters`` (size classes and statistics, on the model's code) and
``runtime`` (the ``inv:`` lines at run time).  This package exports them all.
"""
from __future__ import annotations

from .bitmap import (TwoTierBitmap, _find_free, _free_below, _load, _one_bit_changed,
                     _set_free, _set_used, _used_padding_bits, _well_formed,
                     _words_with_free_bits_below, fresh_bitmap, is_free)
from .common import (CHECK_MAX_CAPACITY, CHECK_MAX_SIZE, CHECK_MAX_THREADS, CHECK_MAX_WORDS,
                     CHECK_SLAB_CAPACITY, CHECK_SLAB_CLASSES, CHECK_SLAB_WORDS,
                     CHECK_WORD_BITS, CLASS_SIZES, MIN_CLASS_SIZE, NULL, NUM_CLASSES, _bit,
                     _free_bits, _full, _has_free, _summary_of)
from .counters import StatCounters, _replaced, _replaced_at, size_to_class
from .minimag import MiniMag, Slab, _index_of, _pop, _push, _walk, _whereabouts, mini_mag_blocks
from .runtime import _INVARIANTS, _compiled, _dump, _invariants_of, check, invariants_hold

_compiled()     # every class's inv: lines, compiled once (all the modules are loaded now)

#: the modules that hold the contracts (CrossHair checks these files)
MODULES = ("bitmap", "minimag", "counters")

__all__ = [
    "TwoTierBitmap", "MiniMag", "Slab", "StatCounters", "size_to_class", "fresh_bitmap",
    "is_free", "mini_mag_blocks", "invariants_hold", "check", "NULL", "CLASS_SIZES",
    "MIN_CLASS_SIZE", "NUM_CLASSES", "CHECK_MAX_CAPACITY", "CHECK_MAX_SIZE",
    "CHECK_MAX_THREADS", "CHECK_MAX_WORDS", "CHECK_SLAB_CAPACITY", "CHECK_SLAB_CLASSES",
    "CHECK_SLAB_WORDS", "CHECK_WORD_BITS", "MODULES",
    # the restated cores and condition helpers, for the tests and the planted variants
    "_find_free", "_set_used", "_set_free", "_pop", "_push", "_load", "_walk", "_bit",
    "_full", "_has_free", "_free_bits", "_summary_of", "_free_below", "_well_formed",
    "_used_padding_bits", "_words_with_free_bits_below", "_one_bit_changed", "_index_of",
    "_whereabouts", "_replaced", "_replaced_at", "_INVARIANTS", "_invariants_of", "_dump",
]
