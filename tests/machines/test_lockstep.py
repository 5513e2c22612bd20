"""The lockstep machine: reference and fast model must agree on every step."""
from hakmem_fast import FastAllocator
from hakmem_ref import RefAllocator
from specs.machines import make_machine, seed_configs, small_configs, tiny_configs

TestLockstepAnyConfig = make_machine(RefAllocator, FastAllocator).TestCase
TestLockstepTinyConfig = make_machine(RefAllocator, FastAllocator, tiny_configs,
                                      name="LockstepTiny").TestCase
TestLockstepSmallConfig = make_machine(RefAllocator, FastAllocator, small_configs,
                                       name="LockstepSmall").TestCase
TestLockstepSeedConfig = make_machine(RefAllocator, FastAllocator, seed_configs,
                                      name="LockstepSeed").TestCase
