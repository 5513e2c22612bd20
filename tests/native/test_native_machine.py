"""The C pool under the lockstep machine, white-box: every op compared with the
reference, the whole catalogue on the C structures' snapshots."""
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from hakmem_verify.explore.impl import load_impl, skipping_unsupported
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.explore.machines import make_machine
from hakmem_verify.explore.configs import configs


def test_the_c_pool_agrees_with_the_reference_on_every_step_white_box():
    impl = load_impl("native")
    assert impl.tier == "white-box"
    Machine = make_machine(RefAllocator, skipping_unsupported(impl), configs,
                           name="NativeMachine")
    run_state_machine_as_test(Machine, settings=settings(max_examples=60, deadline=None,
                                                         stateful_step_count=40))


def test_the_c_pool_passes_the_concurrent_machine_with_its_remote_push_stepped():
    """Rounds of 2-4 virtual threads whose steps interleave (hakmem_verify.oracle.concurrent): the C
    pool's remote push runs word by word on its real atomics, its other ops are one
    step each; linearizability is checked at the quiescent points."""
    from hakmem_verify.explore.concurrent_hunt import make_concurrent_machine
    from hakmem_verify.models.native import make
    Machine = make_concurrent_machine(RefAllocator, make)
    run_state_machine_as_test(Machine, settings=settings(max_examples=12, deadline=None))


def test_the_stock_oracle_runs_the_path_conformance_checks_on_the_c_pool():
    """The C pool reports the design's debug counters, so the lockstep oracle checks the
    path of every op against the design (CONF-*), as it does for the model."""
    from hakmem_verify.contract.api import Config
    from hakmem_verify.oracle.lockstep import Oracle
    from hakmem_verify.contract.ops import Alloc, Free, Quiesce, ThreadExit
    cfg = Config(slab_size=2048, magazine_capacity=2, mini_mag_capacity=2, refill_batch=2)
    oracle = Oracle(RefAllocator(cfg), load_impl("native")(cfg))
    oracle.run([Alloc(8, 0)] * 20 + [Free(h, h % 3) for h in range(20)] + [ThreadExit(0),
                                                                         Quiesce()])
    oracle.teardown()
    conf = {i: n for i, n in oracle.checks.items() if i.startswith("CONF-")}
    assert len(conf) >= 5 and all(n > 0 for n in conf.values()), conf


def test_in_superslab_mode_the_c_pool_agrees_with_the_reference_on_every_step():
    """The lockstep machine on SuperSlab-mode Configs only: every op's snapshot (partial,
    from the C pool's footprint) checked by the catalogue, SS-01..SS-08 included."""
    import dataclasses

    from hypothesis import strategies as st

    from hakmem_verify.explore.configs import seed_configs, small_configs, tiny_configs
    ss_configs = st.one_of(tiny_configs, small_configs, seed_configs).flatmap(
        lambda c: st.builds(lambda k, pm, sll: dataclasses.replace(
            c, use_superslab=True, superslab_size=c.slab_size * k, superslab_pool_max=pm,
            tls_sll_capacity=sll), st.sampled_from([2, 4, 8]), st.integers(0, 2),
            st.integers(0, 4)))
    Machine = make_machine(RefAllocator, skipping_unsupported(load_impl("native")), ss_configs,
                           name="NativeSuperSlabMachine")
    run_state_machine_as_test(Machine, settings=settings(max_examples=60, deadline=None,
                                                         stateful_step_count=40))


def test_the_oracle_runs_the_superslab_checks_on_the_c_pool():
    from hakmem_verify.contract.api import Config
    from hakmem_verify.oracle.lockstep import Oracle
    from hakmem_verify.contract.ops import Alloc, Free, Quiesce, ThreadExit
    cfg = Config(slab_size=2048, magazine_capacity=2, mini_mag_capacity=2, refill_batch=2,
                 use_superslab=True, superslab_size=8192, superslab_pool_max=1,
                 tls_sll_capacity=2)
    oracle = Oracle(RefAllocator(cfg), load_impl("native")(cfg))
    oracle.run([Alloc(8, h % 2) for h in range(40)] + [Free(h, h % 3) for h in range(40)]
               + [ThreadExit(0), ThreadExit(1), Alloc(8, 2), Quiesce()])
    oracle.teardown()
    ss = {i: n for i, n in oracle.checks.items() if i.startswith("SS-")}
    assert {"SS-01", "SS-02", "SS-03", "SS-04", "SS-06", "SS-07", "SS-08"} <= set(ss), ss
    assert all(n > 0 for n in ss.values()), ss
