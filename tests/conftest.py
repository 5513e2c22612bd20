"""Pytest setup: our Hypothesis profiles, loaded explicitly (see specs/profiles.py)."""
from hypothesis import settings

from specs.profiles import default_profile, register_profiles

register_profiles()
settings.load_profile(default_profile())
