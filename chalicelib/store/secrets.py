"""Secrets from AWS Secrets Manager, cached by Powertools for a few minutes per container."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

# A rotated API key reaches every container within this many seconds (README, "Rotating keys").
MAX_AGE_SECONDS = 300


def secret(name: str) -> str:
    """The secret's current string value; raises Powertools' GetParameterError if it cannot be read."""
    return str(parameters.get_secret(name, max_age=MAX_AGE_SECONDS))
