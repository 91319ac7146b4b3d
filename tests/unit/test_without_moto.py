"""The unit suite runs where moto is not installed (its stores are the in-memory fakes)."""

from __future__ import annotations

import os
import subprocess  # nosec B404 - runs this interpreter on this repository's tests
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.environ.get("KKREG_WITHOUT_MOTO") == "1", reason="this is the run without moto")
def test_unit_tests_run_without_moto() -> None:
    # Given moto made unimportable (tests/unit/conftest.py, KKREG_WITHOUT_MOTO=1)
    env = os.environ | {"KKREG_WITHOUT_MOTO": "1"}
    # When the unit suite runs in its own interpreter
    done = subprocess.run(  # nosec B603 - fixed arguments
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-x", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # Then every test passes, and nothing imported moto
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
