"""Hypothesis profile for the contract tests: ``crosshair`` (solver-backed draws).

``backend="crosshair"`` (hypothesis-crosshair) makes Hypothesis draw symbolic
values and explore the branches of a property with CrossHair instead of
sampling at random.  Use it for the property tests of the pure cores:

    pytest tests/contracts --hypothesis-profile=crosshair

(``tests/contracts`` must be on the command line: this conftest has to be
loaded before Hypothesis' pytest plugin selects the profile).  The tests in
``test_core_properties.py`` that are marked ``crosshair`` always run under it.

This registration belongs with the other profiles in ``hakmem_verify/explore/profiles.py``
(``register_profiles``); it lives here until it moves there.
"""
from hypothesis import HealthCheck, settings

CROSSHAIR_PROFILE = "crosshair"

settings.register_profile(
    CROSSHAIR_PROFILE,
    backend="crosshair",
    max_examples=200,        # symbolic paths, not random examples: each one explores a branch
    deadline=None,           # a path includes solver calls
    database=None,           # symbolic examples are not replayable byte strings
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)
