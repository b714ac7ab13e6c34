"""GloziChat's trial tests.

Hypothesis builds its Unicode tables the first time a text strategy runs in a
fresh checkout, which can take over a second; that is set-up, not a slow test,
so the too_slow health check is off and there is no per-example deadline.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("glozichat", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("glozichat")
