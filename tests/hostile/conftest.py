"""Hypothesis profiles: "ci" (``make test``: ~100 examples an endpoint, derandomized) and "full"
(``make test-full`` or ``KKREG_FULL=1``: 1,000 an endpoint). The example database lives in the
git-ignored ``.hypothesis/``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
# Derandomized: a CI run tests the same examples every time (and so keeps no database).
settings.register_profile("ci", max_examples=100, derandomize=True, database=None, **_COMMON)  # type: ignore[arg-type]
settings.register_profile(
    "full",
    max_examples=1000,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    **_COMMON,  # type: ignore[arg-type]
)
settings.load_profile("full" if os.environ.get("KKREG_FULL") == "1" else "ci")
