"""Secrets from SSM Parameter Store (SecureString), cached by Powertools for a few minutes."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters


def secure_parameter(name: str) -> str:
    """The decrypted value; raises Powertools' GetParameterError if it cannot be read."""
    return str(parameters.get_parameter(name, decrypt=True, max_age=300))
