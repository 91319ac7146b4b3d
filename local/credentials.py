"""Fake AWS credentials and region, so that nothing local ever reaches an AWS account.

Kept apart from ``local.engine`` (moto): the unit tests set them too, without moto installed.
"""

from __future__ import annotations

import os

_NOTHING_REAL = "local"  # moto takes any credentials; these open no AWS account
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": _NOTHING_REAL,
    "AWS_SESSION_TOKEN": _NOTHING_REAL,
    "AWS_DEFAULT_REGION": "ap-southeast-1",
    "AWS_REGION": "ap-southeast-1",
}


def fake_credentials() -> None:
    """Point boto3 at nothing real: fake credentials and a region, never an AWS account."""
    for key, val in FAKE_ENV.items():
        os.environ[key] = val
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)
