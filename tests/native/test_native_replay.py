"""Replaying on the C pool: a workload through ``hakmem-fuzz replay --impl native`` takes
the model's paths op for op, and a reproducer recording ``IMPL = 'native'`` replays on it."""
import subprocess
import sys

from hakmem_verify.cli.main import main
from hakmem_verify.runner.replay import write_reproducer
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import Alloc, Free, FreeMany, Quiesce, ThreadExit


def _paths(capsys, impl):
    argv = ["replay", "--workload", "larson", "--threads", "4"]
    assert main(argv + (["--impl", impl] if impl else [])) == 0
    out = capsys.readouterr()
    return [ln for ln in (out.out + out.err).splitlines() if "ops that took each path" in ln]


def test_a_workload_replayed_on_the_c_pool_takes_the_models_paths(capsys):
    native = _paths(capsys, "native")
    assert native and "tls_mag" in native[0]
    assert native == _paths(capsys, None)


def test_a_reproducer_recording_impl_native_replays_on_the_c_pool(tmp_path):
    ops = [Alloc(8, 0), Alloc(100, 1), Free(0, 1), ThreadExit(0), FreeMany(5, 2, True),
           Quiesce()]
    path = write_reproducer(str(tmp_path), Config(slab_size=4096), ops, name="native-clean",
                            impl="native")
    assert "IMPL = 'native'" in open(path).read()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]


def test_slab_accounting_reads_the_c_pools_own_lists_in_a_replay(monkeypatch):
    """SLAB-ACCT on the C pool checks its released-slab list and next index too
    (``pool_lists``), in the oracle's L3 check of a replay: a released slab index that
    falls off the list is found."""
    import pytest

    from hakmem_verify.models.native.allocator import NativeAllocator
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.contract.api import InvariantViolation
    from hakmem_verify.oracle.lockstep import Oracle
    cfg = Config(class_sizes=(8,), slab_size=64, word_bits=4, mini_mag_capacity=1,
                 refill_batch=1, magazine_capacity=1, flush_interval=1)
    ops = [Alloc(8, 0), Alloc(8, 0), Alloc(8, 0), Alloc(8, 0), Alloc(8, 0),
           FreeMany(5, 0, True), ThreadExit(0), Quiesce()]
    clean = Oracle(RefAllocator(cfg), NativeAllocator(cfg))
    clean.run(ops)
    released, first, nxt = clean.fast.pool_lists()
    assert released and first < nxt and clean.checks["SLAB-ACCT"] >= 1
    real_exit = NativeAllocator.thread_exit

    def exit_and_forget(self, tid):        # a release that loses the slab's index
        real_exit(self, tid)
        if self._pool.nfree_vidx:
            self._pool.nfree_vidx -= 1
    monkeypatch.setattr(NativeAllocator, "thread_exit", exit_and_forget)
    with pytest.raises(InvariantViolation) as exc:
        Oracle(RefAllocator(cfg), NativeAllocator(cfg)).run(ops)
    assert exc.value.inv_id == "SLAB-ACCT" and "fell off every list" in str(exc.value)
