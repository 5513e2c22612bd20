"""Naming the implementation under test (hakmem_verify.explore.impl): every bad name is one ImplError with a
message that says what is wrong; the command line turns it into exit status 2."""
import argparse
import textwrap

import pytest

from hakmem_verify.explore import impl
from hakmem_verify.explore.impl import ImplError, load_impl
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.unsupported import Unsupported

GOOD = textwrap.dedent("""
    from examples.bump_alloc import Bump, make
    from hakmem_verify.contract.api import Config
    from hakmem_verify.contract.unsupported import Unsupported

    def raises(config):
        raise RuntimeError("cannot open the arena")

    def returns_half(config):
        class Half:
            def __init__(self):
                self.config = config
            def alloc(self, size, tid=0):
                return None
            def free(self, addr, tid=0):
                pass
        return Half()

    def limited(config):
        if config.max_slabs_per_class is not None:
            raise Unsupported("max_slabs_per_class", config.max_slabs_per_class,
                              "memory is unbounded")
        return Bump(config)

    def never(config):
        raise Unsupported("slab_size", config.slab_size)

    def no_config(config):
        b = Bump(config)
        del b.config
        return b

    def other_config(config):
        return Bump(Config(slab_size=config.slab_size * 2))

    NOT_CALLABLE = 3
""")


@pytest.fixture
def mod(tmp_path, monkeypatch, request):
    """A module of factories, good and bad, importable under a name unique to the test."""
    name = "impl_fixture_" + request.node.name.replace("[", "_").replace("]", "_")
    (tmp_path / f"{name}.py").write_text(GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_the_default_is_hakmem_fast_checked_white_box(monkeypatch):
    monkeypatch.delenv(impl.ENV, raising=False)
    got = load_impl()
    assert (got.spec, got.tier) == ("hakmem_verify.models.fast:FastAllocator", "white-box")
    assert type(got(Config())).__name__ == "FastAllocator"


def test_short_names_and_the_environment_variable_name_an_implementation(monkeypatch):
    assert load_impl("ref").spec == "hakmem_verify.models.ref:RefAllocator"
    assert load_impl("fast").spec == "hakmem_verify.models.fast:FastAllocator"
    monkeypatch.setenv(impl.ENV, "examples.bump_alloc:make")
    assert impl.describe(load_impl()) == ("examples.bump_alloc:make", "black-box")


def test_the_example_is_black_box_and_describe_also_takes_an_instance():
    a = load_impl("examples.bump_alloc:make")(Config())
    assert impl.describe(a) == ("examples.bump_alloc:Bump", "black-box")
    assert "black-box" in impl.banner(a)


@pytest.mark.parametrize("spec, words", [
    ("nosuchmodule_xyz:make", ["no module named 'nosuchmodule_xyz'"]),
    ("examples.nosuch:make", ["no module named 'examples.nosuch'"]),
    ("examples.bump_alloc", ["expected MODULE:FACTORY"]),
    ("examples.bump_alloc:", ["expected MODULE:FACTORY"]),
    ("examples.bump_alloc:mak", ["has no 'mak'", "Bump", "make"]),
])
def test_a_missing_module_or_factory_is_an_impl_error_naming_it(spec, words):
    with pytest.raises(ImplError) as e:
        load_impl(spec)
    for w in words:
        assert w in str(e.value)


def test_a_factory_that_raises_is_an_impl_error_with_its_exception(mod):
    with pytest.raises(ImplError, match=r"factory raised RuntimeError: cannot open the arena"):
        load_impl(f"{mod}:raises")


def test_an_object_missing_protocol_methods_is_an_impl_error_listing_them(mod):
    with pytest.raises(ImplError) as e:
        load_impl(f"{mod}:returns_half")
    msg = str(e.value)
    for m in ("usable_size", "write", "read", "thread_exit", "stats", "exact_stats",
              "flush_stats", "quiesce"):
        assert m in msg
    assert "alloc," not in msg.split("lacks")[1]


def test_a_factory_that_is_not_callable_is_an_impl_error(mod):
    with pytest.raises(ImplError, match=r"NOT_CALLABLE is not callable \(it is int 3\)"):
        load_impl(f"{mod}:NOT_CALLABLE")


def test_an_object_without_the_config_it_was_given_is_an_impl_error(mod):
    with pytest.raises(ImplError, match=r"lacks config \(the Config it was built with\)"):
        load_impl(f"{mod}:no_config")
    with pytest.raises(ImplError, match=r"lacks config equal to the Config passed"):
        load_impl(f"{mod}:other_config")


def test_a_module_that_fails_to_import_is_an_impl_error(tmp_path, monkeypatch):
    (tmp_path / "impl_broken_mod.py").write_text("import numpy_not_installed_here\n")
    (tmp_path / "impl_syntax_mod.py").write_text("def make(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImplError, match="importing impl_broken_mod failed"):
        load_impl("impl_broken_mod:make")
    with pytest.raises(ImplError, match="raised SyntaxError"):
        load_impl("impl_syntax_mod:make")


def test_an_unsupported_knob_is_skipped_not_an_error(mod):
    limited = load_impl(f"{mod}:limited")           # the default Config is supported
    assert limited.tier == "black-box"
    with pytest.raises(Unsupported) as e:
        limited(Config(max_slabs_per_class=1))
    assert (e.value.knob, e.value.value) == ("max_slabs_per_class", 1)
    assert "not supported: max_slabs_per_class=1 (memory is unbounded)" == str(e.value)


def test_an_implementation_that_supports_no_probe_config_is_an_impl_error(mod):
    with pytest.raises(ImplError, match="supports none of the probe Configs"):
        load_impl(f"{mod}:never")


def test_the_cli_helpers_parse_impl_and_exit_2_with_the_message(capsys):
    parser = argparse.ArgumentParser()
    impl.add_impl_argument(parser)
    assert parser.parse_args(["--impl", "ref"]).impl == "ref"
    assert parser.parse_args([]).impl is None
    assert impl.resolve_or_exit("ref").spec == "hakmem_verify.models.ref:RefAllocator"
    assert "implementation: hakmem_verify.models.ref:RefAllocator -- black-box" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        impl.resolve_or_exit("nosuchmodule_xyz:make")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("hakmem-fuzz: error: nosuchmodule_xyz:make: no module named")
    assert "Traceback" not in err


def test_a_machine_skips_the_configs_an_implementation_declares_unsupported(mod):
    from collections import Counter

    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.explore.machines import make_machine
    from hakmem_verify.explore.configs import tiny_configs
    skipped = Counter()
    Machine = make_machine(RefAllocator, impl.skipping_unsupported(load_impl(f"{mod}:limited"),
                                                                   skipped), tiny_configs)
    run_state_machine_as_test(Machine, settings=settings(
        max_examples=30, stateful_step_count=10, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck)))
    assert skipped and all(m.startswith("not supported: max_slabs_per_class=") for m in skipped)
    lines = impl.unsupported_lines(skipped)
    assert lines[0].startswith("not supported: max_slabs_per_class=")
    assert lines[0].endswith("Config(s) skipped, not a bug")
