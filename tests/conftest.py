"""Pytest setup: our Hypothesis profiles, loaded explicitly (see hakmem_verify/explore/profiles.py), and the
implementation under test (``--impl MODULE:FACTORY`` or ``$HAKMEM_IMPL``, default hakmem_verify.models.fast)."""
import pytest
from hypothesis import settings

from hakmem_verify.explore import impl as impl_mod
from hakmem_verify.explore.profiles import default_profile, register_profiles

register_profiles()
settings.load_profile(default_profile())

IMPL_KEY = pytest.StashKey()


def pytest_collection_modifyitems(session, config, items):
    """Replay every reproducer in tests/regressions before anything else."""
    items.sort(key=lambda item: 0 if "regressions" in str(item.fspath) else 1)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker more than the cores.  Many tests spend their time waiting on
    child processes (CrossHair, the runner's workers and their grace periods, redis, the
    C stress driver), so a third worker on two cores finished the suite in 347 s against
    581 s with two.  ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still overrides it."""
    import os
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return (os.cpu_count() or 1) + 1


def pytest_addoption(parser):
    parser.addoption("--impl", default=None, metavar="MODULE:FACTORY",
                     help="allocator under test by tests/machines/test_impl_machine.py: a "
                          "factory taking a Config, e.g. examples.bump_alloc:make; short names "
                          f"fast, ref (default: ${impl_mod.ENV}, else fast)")


def pytest_configure(config):
    try:
        config.stash[IMPL_KEY] = impl_mod.load_impl(config.getoption("impl"))
    except impl_mod.ImplError as e:
        raise pytest.UsageError(str(e)) from None


def pytest_report_header(config):
    return impl_mod.banner(config.stash[IMPL_KEY])


@pytest.fixture(scope="session")
def impl_factory(pytestconfig):
    """The implementation named by --impl / $HAKMEM_IMPL: a checked factory Config -> allocator."""
    return pytestconfig.stash[IMPL_KEY]
