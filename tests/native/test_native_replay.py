"""Replaying on the C pool: a workload through ``hakmem-fuzz replay --impl native`` takes
the model's paths op for op, and a reproducer recording ``IMPL = 'native'`` replays on it."""
import subprocess
import sys

from fuzz.cli import main
from fuzz.replay import write_reproducer
from specs.api import Config
from specs.lockstep import Alloc, Free, FreeMany, Quiesce, ThreadExit


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
