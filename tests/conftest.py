"""Settings for every test: Hypothesis without wall-clock limits.

CI machines are shared and slow; a property test must fail on a wrong value, never on a slow draw. Tests
keep their own ``max_examples``; the profile only removes the deadline and the too-slow health check.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("noether", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("noether")
