"""The C pool under the lockstep machine, white-box: every op compared with the
reference, the whole catalogue on the C structures' snapshots."""
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from fuzz.impl import load_impl, skipping_unsupported
from hakmem_ref import RefAllocator
from specs.machines import configs, make_machine


def test_the_c_pool_agrees_with_the_reference_on_every_step_white_box():
    impl = load_impl("native")
    assert impl.tier == "white-box"
    Machine = make_machine(RefAllocator, skipping_unsupported(impl), configs,
                           name="NativeMachine")
    run_state_machine_as_test(Machine, settings=settings(max_examples=60, deadline=None,
                                                         stateful_step_count=40))
