"""Hypothesis settings profiles, registered in one place.

``dev`` (default on a workstation), ``ci`` (pull requests: derandomized, no
example database, bounded time), ``nightly`` (long runs: database on, more
examples and steps).  Choose with ``--hypothesis-profile NAME`` or
``HYPOTHESIS_PROFILE=NAME``.  Hypothesis itself loads a built-in profile named
``ci`` when the ``CI`` variable is set; ``tests/conftest.py`` loads ours
explicitly so the choice is always this module's.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
DEFAULT_DB = os.path.join(".hypothesis", "hakmem-examples")


def register_profiles(db_path: str = None) -> None:
    """Register dev / ci / nightly / quality (idempotent)."""
    db = DirectoryBasedExampleDatabase(db_path or os.environ.get("HAKMEM_DB", DEFAULT_DB))
    settings.register_profile("dev", max_examples=60, stateful_step_count=50, deadline=None,
                              suppress_health_check=SLOW_OK, database=db)
    settings.register_profile("ci", max_examples=60, stateful_step_count=50, deadline=None,
                              derandomize=True, database=None, print_blob=True,
                              suppress_health_check=SLOW_OK)
    settings.register_profile("nightly", max_examples=2000, stateful_step_count=150,
                              deadline=None, database=db, print_blob=True,
                              suppress_health_check=SLOW_OK)
    # quality tests: find a planted bug fast, shrink it, no database side effects
    settings.register_profile("quality", max_examples=400, stateful_step_count=60,
                              deadline=None, database=None, derandomize=True,
                              suppress_health_check=SLOW_OK,
                              phases=[Phase.explicit, Phase.generate, Phase.shrink])


def default_profile() -> str:
    if os.environ.get("HYPOTHESIS_PROFILE"):
        return os.environ["HYPOTHESIS_PROFILE"]
    return "ci" if os.environ.get("CI") else "dev"
