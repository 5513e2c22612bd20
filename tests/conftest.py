"""Pytest setup: our Hypothesis profiles, loaded explicitly (see specs/profiles.py)."""
from hypothesis import settings

from specs.profiles import default_profile, register_profiles

register_profiles()
settings.load_profile(default_profile())


def pytest_collection_modifyitems(session, config, items):
    """Replay every reproducer in tests/regressions before anything else."""
    items.sort(key=lambda item: 0 if "regressions" in str(item.fspath) else 1)
