"""Every contract of ``hakmem_verify.contracts`` is tied to the model, so none can drift silently.

A contract (a module function or method with ``pre:`` / ``post:``, a class
with ``inv:``; see ``conditions.contracted``) is tied one of two ways:

* ``ON_THE_MODEL``: it calls the model's own function, and a test evaluates
  its conditions on the model at the model's sizes.  Shown here: that test
  calls the contract, the contract calls the model's function, and a model
  drifted to a known wrong behaviour fails that test.
* ``DIFFERENTIAL``: it is a restatement, and a differential test runs it and
  the model on the same operations and compares every observable.  Shown
  here: the test calls the contract, and fails when the restatement is
  planted with a drift.  A method's drift is the planted bug of
  ``tests/contracts/planted.py`` that CrossHair refutes, and the test must
  catch it by the comparison with the model alone (contract evaluation off).
  A class's drift is an extra ``inv:`` line the model's states break.

A new contract that is in neither table fails
``test_every_contract_is_in_one_table``.
"""
from __future__ import annotations

import builtins
import functools
from dataclasses import dataclass
from typing import Callable

import pytest

from hakmem_verify.models.fast import core as ops
from hakmem_verify.contract import api
from hakmem_verify import contracts
from hakmem_verify.contracts import MiniMag, Slab, StatCounters, TwoTierBitmap  # noqa: F401  (the contracts this test ties to the model)

from . import conditions, planted
from . import test_contracts_agree_with_model as bitmap_diff
from . import test_data_plane_agrees_with_model as plane_diff
from . import test_model_meets_contracts as on_model


@dataclass(frozen=True)
class OnTheModel:
    module: object              # the model's module ...
    function: str               # ... and the function the contract calls
    test: Callable              # evaluates the contract on the model (no arguments)
    drift: Callable             # the model function drifted to a known wrong behaviour


@dataclass(frozen=True)
class Differential:
    test: Callable              # compares the restatement with the model (no arguments)
    drift: Callable             # (monkeypatch) -> None: plants a drift in the restatement


# ============================================================================
# Model drifts (ON_THE_MODEL) and restatement drifts (DIFFERENTIAL)
# ============================================================================


def _record_flushing_at_two(batch, class_idx):
    """A record that empties the batch when it reaches 2 events: a flush inside the
    record, as this module's contract once said (the model's record only counts)."""
    batch[class_idx] += 1
    if batch[class_idx] == 2:
        batch[class_idx] = 0


def _whole_batch_flush_all(batch, global_counts):
    """Thread-exit flush adding ``256`` per non-empty class, whatever the batch holds."""
    for c, n in enumerate(batch):
        if n:
            ops.atomic_add(global_counts, c, 256)
            batch[c] = 0


def _record_dropping_events(batch, class_idx):
    """Counts only every other event: STAT-01's conservation breaks."""
    batch[class_idx] += 1 if sum(batch) % 2 == 0 else 0


def _plant_method(cls, name: str, variant) -> Callable:
    """Drift: ``cls.name`` replaced by the planted variant's method."""
    def plant(monkeypatch):
        monkeypatch.setattr(cls, name, vars(variant)[name])
    return plant


def _plant_invariant(cls, src: str) -> Callable:
    """Drift: ``src`` added to ``cls``'s ``inv:`` lines (a state the model does not keep)."""
    def plant(monkeypatch):
        holds = eval(compile(f"lambda self: ({src}\n)", "<planted inv>", "eval"), vars(contracts))
        monkeypatch.setitem(contracts._INVARIANTS, cls, contracts._INVARIANTS[cls] + [(src, holds)])
    return plant


STATS_TEST = on_model.test_stat_counters_meet_their_contract_at_every_flush_point
SIZES_TEST = on_model.test_size_to_class_meets_its_contract_on_every_tiny_size_and_above
BITMAP_TEST = bitmap_diff.test_bitmap_core_agrees_with_model_on_random_op_sequences
MAG_TEST = plane_diff.test_mini_magazine_agrees_with_model_on_random_op_sequences
SLAB_TEST = plane_diff.test_refill_and_spill_agree_with_model_on_random_op_sequences

ON_THE_MODEL = {
    "size_to_class": OnTheModel(api, "size_to_class", SIZES_TEST, on_model._off_by_one),
    "StatCounters": OnTheModel(ops, "stats_record_alloc", STATS_TEST, _record_dropping_events),
    "StatCounters.record_alloc": OnTheModel(ops, "stats_record_alloc", STATS_TEST,
                                            _record_flushing_at_two),
    "StatCounters.record_free": OnTheModel(ops, "stats_record_free", STATS_TEST,
                                           _record_flushing_at_two),
    "StatCounters.flush_if_needed": OnTheModel(ops, "stats_flush_if_needed", STATS_TEST,
                                               on_model._flush_at_equals),
    "StatCounters.flush_all": OnTheModel(ops, "stats_flush_all", STATS_TEST,
                                         _whole_batch_flush_all),
}

DIFFERENTIAL = {
    "TwoTierBitmap": Differential(BITMAP_TEST, _plant_invariant(
        TwoTierBitmap, "self.free_count == 0 or _free_bits(self.words[self.hint_word], "
                       "self.word_bits) > 0  # the hint is the first word with a free block")),
    "TwoTierBitmap.find_free": Differential(BITMAP_TEST, _plant_method(
        TwoTierBitmap, "find_free", planted.StaleHintBitmap)),
    "TwoTierBitmap.set_used": Differential(BITMAP_TEST, _plant_method(
        TwoTierBitmap, "set_used", planted.SummaryNeverClearedBitmap)),
    "TwoTierBitmap.set_free": Differential(BITMAP_TEST, _plant_method(
        TwoTierBitmap, "set_free", planted.HintNotLoweredBitmap)),
    "MiniMag": Differential(MAG_TEST, _plant_invariant(
        MiniMag, "self.count < self.capacity  # never full")),
    "MiniMag.pop": Differential(MAG_TEST, _plant_method(
        MiniMag, "pop", planted.CountKeptOnPopMiniMag)),
    "MiniMag.push": Differential(MAG_TEST, _plant_method(
        MiniMag, "push", planted.UncheckedPushMiniMag)),
    "Slab": Differential(SLAB_TEST, _plant_invariant(
        Slab, "mini_mag_blocks(self.mini_mag) == sorted(mini_mag_blocks(self.mini_mag))"
              "  # cached blocks in address order")),
    "Slab.batch_refill": Differential(SLAB_TEST, _plant_method(
        Slab, "batch_refill", planted.SeedRefillSlab)),
    "Slab.spill": Differential(SLAB_TEST, _plant_method(
        Slab, "spill", planted.DoubleCountSpillSlab)),
}


# ============================================================================
# The tests
# ============================================================================


def test_every_contract_is_in_one_table():
    have = set(conditions.contracted())
    assert have, "found no contract in hakmem_verify.contracts: conditions.contracted() is broken"
    untied = sorted(have - set(ON_THE_MODEL) - set(DIFFERENTIAL))
    assert not untied, (
        f"contracts of hakmem_verify/contracts/ tied to the model neither way: {untied}. Add each "
        f"to ON_THE_MODEL (it calls the model's function; give the test evaluating it on "
        f"the model) or to DIFFERENTIAL (give the differential test and a drift it catches) "
        f"in {__name__}")
    stale = sorted((set(ON_THE_MODEL) | set(DIFFERENTIAL)) - have)
    assert not stale, f"no such contract in hakmem_verify/contracts/ any more: {stale}"
    both = sorted(set(ON_THE_MODEL) & set(DIFFERENTIAL))
    assert not both, f"contracts in both tables: {both}"


def _new_contract(size: int) -> int:
    """A contract nobody tied to the model.

    post: __return__ == size
    """
    return size


@pytest.mark.quality
def test_a_new_contract_in_neither_table_is_reported(monkeypatch):
    monkeypatch.setattr(_new_contract, "__module__", contracts.__name__)
    monkeypatch.setattr(contracts, "identity", _new_contract, raising=False)
    with pytest.raises(AssertionError, match=r"neither way: \['identity'\]"):
        test_every_contract_is_in_one_table()


def test_a_class_on_the_model_changes_its_state_only_through_the_model():
    found = conditions.contracted()
    for name, (kind, _) in found.items():
        if kind == "invariants" and name in ON_THE_MODEL:
            methods = [n for n in found if n.startswith(name + ".")]
            assert methods and all(m in ON_THE_MODEL for m in methods), (
                f"{name} is tied to the model, so each of its methods must call the model: "
                f"{[m for m in methods if m not in ON_THE_MODEL]} do not")


def _spy(monkeypatch, owner, attr: str) -> list:
    """Count the calls of ``owner.attr`` (a function of a module or class) from now on."""
    calls = []
    original = getattr(owner, attr)

    @functools.wraps(original)
    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)
    monkeypatch.setattr(owner, attr, spy)
    return calls


def _spy_contract(monkeypatch, name: str) -> Callable:
    """A function counting the calls of contract ``name`` from now on: of the function
    or method, or (a class) of the invariant check on an object of the class."""
    kind, _ = conditions.contracted()[name]
    owner, _, attr = name.rpartition(".")
    if kind == "function":
        calls = _spy(monkeypatch, contracts, name)
        return lambda: len(calls)
    if kind == "method":
        calls = _spy(monkeypatch, getattr(contracts, owner), attr)
        return lambda: len(calls)
    checked = _spy(monkeypatch, contracts, "check")
    cls = getattr(contracts, name)
    return lambda: sum(isinstance(args[0], cls) for args in checked)


@pytest.mark.parametrize("name", sorted(ON_THE_MODEL))
def test_contract_on_the_model_is_evaluated_on_the_models_function(name, monkeypatch):
    tie = ON_THE_MODEL[name]
    model_calls = _spy(monkeypatch, tie.module, tie.function)
    contract_calls = _spy_contract(monkeypatch, name)
    tie.test()
    assert contract_calls(), f"{tie.test.__name__} never evaluates the contract {name}"
    assert model_calls, (f"{tie.test.__name__} ran {name} without calling the model's "
                         f"{tie.module.__name__}.{tie.function}")


@pytest.mark.parametrize("name", sorted(DIFFERENTIAL))
def test_differential_test_runs_the_contract(name, monkeypatch):
    tie = DIFFERENTIAL[name]
    calls = _spy_contract(monkeypatch, name)
    tie.test()
    assert calls(), f"{tie.test.__name__} never runs the contract {name}, so it cannot compare it"


_EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", ())   # Python >= 3.11


def _failure_of(test) -> BaseException:
    """What ``test`` raised (an exception group is opened to its first leaf), or None."""
    try:
        test()
    except BaseException as exc:  # - the failure is the result
        while isinstance(exc, _EXCEPTION_GROUP):
            exc = exc.exceptions[0]
        return exc
    return None


@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(ON_THE_MODEL))
def test_contract_on_the_model_refutes_a_drifted_model(name, monkeypatch):
    tie = ON_THE_MODEL[name]
    monkeypatch.setattr(tie.module, tie.function, tie.drift)
    failure = _failure_of(tie.test)
    assert isinstance(failure, conditions.ContractViolated), (
        f"{tie.test.__name__} passed (or failed otherwise: {failure!r}) with the model's "
        f"{tie.function} replaced by {tie.drift.__name__}: {tie.drift.__doc__}")


@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(DIFFERENTIAL))
def test_differential_test_catches_a_drifted_contract(name, monkeypatch):
    tie = DIFFERENTIAL[name]
    kind, _ = conditions.contracted()[name]
    if kind == "method":              # the comparison with the model alone must catch it
        monkeypatch.setattr(conditions, "ENFORCED", False)
    tie.drift(monkeypatch)
    failure = _failure_of(tie.test)
    assert isinstance(failure, AssertionError), (
        f"{tie.test.__name__} did not fail (it raised {failure!r}) with {name} drifted")
    if kind == "method":
        assert "model" in str(failure), f"{name} drift caught, but not by the comparison: {failure}"
    else:
        assert isinstance(failure, conditions.ContractViolated), failure
