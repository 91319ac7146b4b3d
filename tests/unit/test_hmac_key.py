"""The HMAC key (issue 21, finding 9): a deployed function never serves with the public development key."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.config import DEV_KEY, hmac_key, verification_keys

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No key and no secret in the environment; the cached key forgotten before and after."""
    for name in ("KKREG_HMAC_KEY", "KKREG_HMAC_KEY_SECRET", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    hmac_key.cache_clear()
    verification_keys.cache_clear()
    yield monkeypatch
    hmac_key.cache_clear()
    verification_keys.cache_clear()


def test_a_function_without_a_stage_or_a_secret_refuses_and_says_what_is_missing(
    no_key: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a function whose environment names no stage and no secret (a deployment gone wrong)
    no_key.delenv("KKREG_STAGE")
    # When a request needs the key / Then it fails loudly, logging what to set and no key
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="KKREG_HMAC_KEY_SECRET"):
        hmac_key()
    with pytest.raises(RuntimeError):
        verification_keys()  # OTP codes and phone tokens are derived from it: refused as well
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged and "KKREG_HMAC_KEY_SECRET" in logged[0].getMessage()
    assert DEV_KEY not in caplog.text


@pytest.mark.parametrize("stage", ["dev", "prod", "Local", ""])
def test_only_the_local_stages_may_use_the_development_key(no_key: pytest.MonkeyPatch, stage: str) -> None:
    no_key.setenv("KKREG_STAGE", stage)
    with pytest.raises(RuntimeError):
        hmac_key()


def test_a_lambda_function_never_uses_the_development_key_whatever_its_stage_says(no_key: pytest.MonkeyPatch) -> None:
    no_key.setenv("KKREG_STAGE", "local")
    no_key.setenv("AWS_LAMBDA_FUNCTION_NAME", "kk-vaccine-registration-dev")
    with pytest.raises(RuntimeError):
        hmac_key()


@pytest.mark.parametrize("stage", ["local", "test"])
def test_the_local_stack_and_the_tests_say_so_and_get_the_development_key(
    no_key: pytest.MonkeyPatch, stage: str
) -> None:
    no_key.setenv("KKREG_STAGE", stage)
    assert hmac_key() == DEV_KEY.encode()


def test_a_key_in_the_environment_is_used_on_any_stage(no_key: pytest.MonkeyPatch) -> None:
    no_key.setenv("KKREG_STAGE", "prod")
    no_key.setenv("KKREG_HMAC_KEY", "a-real-key")
    assert hmac_key() == b"a-real-key"


def test_importing_the_app_needs_no_environment_variable() -> None:
    # Given a fresh interpreter with nothing of ours in its environment (Chalice's packaging)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KKREG_", "AWS_", "POWERTOOLS_"))}
    # When it imports the app / Then it succeeds (the key is read on first use, not at import)
    subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, check=True, capture_output=True)
