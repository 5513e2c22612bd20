"""The lockstep machine on the implementation named by ``--impl`` / ``$HAKMEM_IMPL``
(default hakmem_verify.models.fast); the tier in force is in the pytest header."""
from collections import Counter

from hypothesis.stateful import run_state_machine_as_test

from hakmem_verify.explore.impl import skipping_unsupported, unsupported_lines
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.explore.machines import make_machine
from hakmem_verify.explore.configs import configs


def test_the_named_implementation_agrees_with_the_reference_on_every_step(impl_factory):
    skipped = Counter()
    Machine = make_machine(RefAllocator, skipping_unsupported(impl_factory, skipped), configs,
                           name="ImplMachine")
    run_state_machine_as_test(Machine)      # settings: the loaded Hypothesis profile
    print("\n".join([f"{impl_factory.spec} ({impl_factory.tier}) ran clean"]
                    + unsupported_lines(skipped)))
