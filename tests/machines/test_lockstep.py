"""The lockstep machine: reference and fast model must agree on every step, in the
default mode and in SuperSlab mode (each machine draws both, sharing its examples)."""
import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.explore.machines import make_machine
from hakmem_verify.explore.configs import (all_mode_configs, both_modes, seed_configs,
    small_configs, tiny_configs)

TestLockstepAnyConfig = make_machine(RefAllocator, FastAllocator, all_mode_configs).TestCase
TestLockstepTinyConfig = make_machine(RefAllocator, FastAllocator, both_modes(tiny_configs),
                                      name="LockstepTiny").TestCase
# the seed-sized and small families alone: AnyConfig draws them too; the nightly job runs
# these (pytest -m slow)
TestLockstepSmallConfig = pytest.mark.slow(make_machine(
    RefAllocator, FastAllocator, both_modes(small_configs), name="LockstepSmall").TestCase)
TestLockstepSeedConfig = pytest.mark.slow(make_machine(
    RefAllocator, FastAllocator, both_modes(seed_configs), name="LockstepSeed").TestCase)
